import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_HEAP_TRIM, HeapTrimPolicy, type HeapTrimSettings } from './heap-trim';

const MiB = 1024 * 1024;
const S: HeapTrimSettings = { quietBusy: 0.25, quietMs: 10_000, minGrowthBytes: 32 * MiB, growthRatio: 0.25, minIntervalMs: 60_000, roundMinFreedBytes: 8 * MiB, maxRounds: 30 };

/**
 * Feeds samples 5 s apart from `fromMs` (utilization, MiB held); a round that is due runs at once and
 * leaves what `afterMiB` says (default: frees nothing). The times at which rounds ran.
 */
function run(p: HeapTrimPolicy, fromMs: number, samples: Array<[busy: number, heldMiB: number]>, afterMiB?: (atMs: number, heldMiB: number) => number): number[] {
  const due: number[] = [];
  samples.forEach(([busy, held], i) => {
    const atMs = fromMs + i * 5_000;
    if (p.observe({ atMs, busy, heldBytes: held * MiB })) {
      due.push(atMs);
      p.collected(atMs, held * MiB, (afterMiB?.(atMs, held) ?? held) * MiB);
    }
  });
  return due;
}
const quiet = (mib: number, n: number) => Array.from({ length: n }, () => [0.1, mib] as [number, number]);

test('a burst that grew the heap, then quiet: a trim once the loop has been quiet for quietMs', () => {
  const p = new HeapTrimPolicy(S);
  // idle at 100 MiB, a busy create that grows it to 400, then quiet: 5 s of quiet is too soon, 10 s is due
  const due = run(p, 0, [[0.05, 100], [0.7, 250], [0.8, 400], ...quiet(400, 4)], () => 395);
  assert.deepEqual(due, [25_000]);
});

test('a busy loop never collects, however much the heap grew', () => {
  const p = new HeapTrimPolicy(S);
  assert.deepEqual(run(p, 0, Array.from({ length: 40 }, (_, i) => [0.3 + (i % 2) * 0.5, 100 + i * 50] as [number, number])), []);
});

test('a quiet period interrupted by one busy sample starts counting again', () => {
  const p = new HeapTrimPolicy(S);
  const due = run(p, 0, [[0.9, 100], [0.1, 300], [0.1, 300], [0.9, 300], ...quiet(300, 3)]);
  // quiet from 5 s; busy at 15 s; quiet again from 20 s, due at 30 s
  assert.deepEqual(due, [30_000]);
});

test('growth below both thresholds is left to V8', () => {
  // 31 MiB over a 100 MiB floor: under the 32 MiB minimum
  assert.deepEqual(run(new HeapTrimPolicy(S), 0, [[0.1, 100], ...quiet(131, 10)]), []);
  // 300 MiB over a 1,300 MiB floor: over the minimum, under a quarter of the floor
  assert.deepEqual(run(new HeapTrimPolicy(S), 0, [[0.1, 1300], ...quiet(1600, 10)]), []);
});

test('rounds follow one another while each frees enough, then the trim ends', () => {
  const p = new HeapTrimPolicy(S);
  const due = run(p, 0, [[0.1, 100], ...quiet(400, 12)], (_, held) => held);
  assert.equal(due.length, 1, 'a round that frees nothing ends the trim');
  // each round frees 60 MiB down to 160, then 4 MiB (under the 8 MiB a round must free): the trim ends there
  const q = new HeapTrimPolicy(S);
  let held = 400;
  const rounds: number[] = [];
  for (let i = 0, atMs = 0; i < 20; i++, atMs += 1_000) {
    if (!q.observe({ atMs, busy: 0.1, heldBytes: (i === 0 ? 100 : held) * MiB })) continue;
    rounds.push(held);
    const after = held > 160 ? held - 60 : held - 4;
    q.collected(atMs, held * MiB, after * MiB);
    held = after;
  }
  assert.deepEqual(rounds, [400, 340, 280, 220, 160]);
  assert.equal(q.roundsDone, 0, 'the trim is over');
});

test('a busy loop stops a trim between rounds, and no new one starts within minIntervalMs', () => {
  const p = new HeapTrimPolicy(S);
  assert.equal(p.observe({ atMs: 0, busy: 0.1, heldBytes: 100 * MiB }), false);
  assert.equal(p.observe({ atMs: 10_000, busy: 0.1, heldBytes: 400 * MiB }), true);
  assert.equal(p.collected(10_000, 400 * MiB, 340 * MiB), true, 'freed 60 MiB: another round');
  assert.equal(p.roundsDone, 1);
  // work arrives: no round, the trim is over, with its floor where the heap stands
  assert.equal(p.observe({ atMs: 11_000, busy: 0.6, heldBytes: 340 * MiB }), false);
  assert.equal(p.roundsDone, 0);
  // quiet again and grown well past 340, but within a minute of the last trim
  assert.deepEqual(run(p, 15_000, quiet(500, 14)), [75_000]);
});

test('never more than maxRounds in one trim', () => {
  const p = new HeapTrimPolicy({ ...S, maxRounds: 3 });
  p.observe({ atMs: 0, busy: 0.1, heldBytes: 100 * MiB });
  assert.equal(p.observe({ atMs: 10_000, busy: 0.1, heldBytes: 1000 * MiB }), true);
  assert.equal(p.collected(10_000, 1000 * MiB, 900 * MiB), true);
  assert.equal(p.observe({ atMs: 11_000, busy: 0.1, heldBytes: 900 * MiB }), true);
  assert.equal(p.collected(11_000, 900 * MiB, 800 * MiB), true);
  assert.equal(p.observe({ atMs: 12_000, busy: 0.1, heldBytes: 800 * MiB }), true);
  assert.equal(p.collected(12_000, 800 * MiB, 700 * MiB), false, 'the third round is the last');
  assert.equal(p.observe({ atMs: 13_000, busy: 0.1, heldBytes: 700 * MiB }), false);
});

test('a heap that holds what it grew by (nothing to free) costs one round per growth step, not one per quiet period', () => {
  const p = new HeapTrimPolicy(S);
  const due = run(p, 0, [[0.1, 100], ...quiet(200, 40)]);
  assert.deepEqual(due, [10_000]);
  // grows again by more than the thresholds over the new floor (200 → 260), a minute later: one more
  assert.deepEqual(run(p, 205_000, quiet(260, 30)), [205_000]);
});

test('V8 shrinking the heap by itself lowers the floor growth is counted from', () => {
  const p = new HeapTrimPolicy(S);
  // the floor starts at 300 (first sample), V8's own GC brings it to 120, then it grows to 170: 50 MiB over 120 is due
  const due = run(p, 0, [[0.1, 300], [0.1, 120], [0.1, 170], [0.1, 170], [0.1, 170]]);
  assert.deepEqual(due, [10_000]);
});

test('the defaults are the documented ones', () => {
  assert.deepEqual(DEFAULT_HEAP_TRIM, S);
});
