import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEAP_GROWTH_FROM_BYTES, heapGrowthPercent } from './heap-growth';

const MiB = 1024 * 1024;

test('V8 keeps its own factor while a full collection keeps less than 64 MiB; from there the growth is the percent', () => {
  const s = { percent: 50, fromBytes: HEAP_GROWTH_FROM_BYTES };
  assert.equal(heapGrowthPercent(0, s), 0);
  assert.equal(heapGrowthPercent(30 * MiB, s), 0);
  assert.equal(heapGrowthPercent(64 * MiB - 1, s), 0);
  assert.equal(heapGrowthPercent(64 * MiB, s), 50);
  assert.equal(heapGrowthPercent(600 * MiB, s), 50);
  // and back: a heap that shrank below the threshold gets V8's factor again
  assert.equal(heapGrowthPercent(40 * MiB, s), 0);
});

test('--heap-growth 0 leaves V8 its own factor at any size', () => {
  assert.equal(heapGrowthPercent(600 * MiB, { percent: 0, fromBytes: HEAP_GROWTH_FROM_BYTES }), 0);
});
