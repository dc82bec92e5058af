import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchDelay } from './batching';

test('batchDelay: none when quiet, the rest of the interval after a recent batch, never more than the interval', () => {
  assert.equal(batchDelay(1000, undefined, 10), 0, 'first batch ever');
  assert.equal(batchDelay(1000, 990, 10), 0, 'last batch exactly one interval ago');
  assert.equal(batchDelay(1000, 500, 10), 0, 'long quiet');
  assert.equal(batchDelay(1000, 997, 10), 7, 'last batch 3 ms ago');
  assert.equal(batchDelay(1000, 1000, 10), 10, 'a batch just went out');
  assert.equal(batchDelay(1000, 5000, 10), 10, 'clock stepped back: bounded by the interval');
  assert.equal(batchDelay(1000, 1000, 0), 0, 'no batching');
});
