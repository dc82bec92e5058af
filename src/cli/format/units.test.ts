import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesSize, parseCpus, parseMemory } from './units';

test('memory sizes are binary multiples', () => {
  assert.equal(parseMemory('512m'), 512 * 1024 * 1024);
  assert.equal(parseMemory('1g'), 1024 ** 3);
  assert.equal(parseMemory('1GiB'), 1024 ** 3);
  assert.equal(parseMemory('100'), 100);
  assert.equal(parseMemory('1.5k'), 1536);
  assert.throws(() => parseMemory('lots'), /invalid size/);
});

test('cpus become NanoCPUs', () => {
  assert.equal(parseCpus('0.5'), 5e8);
  assert.equal(parseCpus('2'), 2e9);
  assert.throws(() => parseCpus('x'));
});

test('bytesSize', () => {
  assert.equal(bytesSize(512), '512B');
  assert.equal(bytesSize(1536), '1.5KiB');
  assert.equal(bytesSize(16 * 1024 ** 3), '16GiB');
  assert.equal(bytesSize(16_000_000_000), '14.9GiB');
});
