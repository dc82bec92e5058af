import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from './wait';

test('waitFor returns the first truthy value of a sync or async predicate', async () => {
  let n = 0;
  assert.equal(await waitFor('n reaches 3', () => ++n >= 3 && n, 1000, 1), 3);
  assert.equal(await waitFor('async', async () => 'yes', 1000, 1), 'yes');
});

test('waitFor fails after the bound, naming what it waited for and the last value', async () => {
  await assert.rejects(waitFor('never', () => false, 20, 1), /^Error: timed out after 20 ms waiting for never; last value: false$/);
});

test('waitFor passes an error through unless told to retry, then reports the last one', async () => {
  const boom = () => {
    throw new Error('refused');
  };
  await assert.rejects(waitFor('boom', boom, 1000, 1), /^Error: refused$/);
  await assert.rejects(waitFor('boom', boom, 20, 1, { retryErrors: true }), /waiting for boom; last value: undefined; last error: Error: refused$/);
  let n = 0;
  const flaky = () => {
    if (++n < 3) throw new Error('not yet');
    return n;
  };
  assert.equal(await waitFor('flaky', flaky, 1000, 1, { retryErrors: true }), 3);
});
