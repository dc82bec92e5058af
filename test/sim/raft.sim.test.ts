// Randomized deterministic simulation of Raft clusters: hundreds of seeds, invariants checked on every
// step. A failure names the seed and prints the step list; replay with
//   node dist/test/sim/run.js --seed <seed> --trace
// SHOAL_SIM_SEEDS (default 600) and SHOAL_SIM_START (default 1) widen or move the range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFailure, paramsForSeed, simulate } from './sim';

const SEEDS = Number(process.env.SHOAL_SIM_SEEDS ?? '600');
const START = Number(process.env.SHOAL_SIM_START ?? '1');
const BATCH = 50;

for (let lo = START; lo < START + SEEDS; lo += BATCH) {
  const hi = Math.min(lo + BATCH, START + SEEDS) - 1;
  test(`raft sim seeds ${lo}..${hi}`, () => {
    let committed = 0;
    for (let seed = lo; seed <= hi; seed++) {
      const res = simulate(paramsForSeed(seed));
      if (!res.ok) assert.fail(formatFailure(res));
      committed += res.stats.committed;
    }
    assert.ok(committed > (hi - lo + 1) * 20, 'the simulated clusters make progress');
  });
}

test('raft sim with the log in memory over a durable copy (retention: committed entries and snapshots read back), seeds 1..200', () => {
  const tot = { committed: 0, snapshots: 0 };
  for (let seed = 1; seed <= 200; seed++) {
    const p = paramsForSeed(seed);
    // every seed compacts, so read-back meets compaction and snapshot installs
    const res = simulate({ ...p, cluster: { ...p.cluster, retainBytes: seed % 2 === 0 ? 0 : 8, compactEvery: p.cluster.compactEvery || 5 } });
    if (!res.ok) assert.fail(formatFailure(res));
    tot.committed += res.stats.committed;
    tot.snapshots += res.stats.snapshots;
  }
  assert.ok(tot.committed > 200 * 20, `committed: ${tot.committed}`);
  assert.ok(tot.snapshots > 50, `snapshots installed: ${tot.snapshots}`);
});

test('a seed replays identically', () => {
  const a = simulate(paramsForSeed(42));
  const b = simulate(paramsForSeed(42));
  assert.ok(a.ok, a.error);
  assert.deepEqual(a.trace, b.trace);
  assert.deepEqual(a.stats, b.stats);
});

test('the sim exercises snapshots, membership changes, reads and several leaders', () => {
  const tot = { snapshots: 0, confChanges: 0, reads: 0, leaders: 0 };
  for (let seed = 1; seed <= 40; seed++) {
    const res = simulate(paramsForSeed(seed));
    assert.ok(res.ok, res.error);
    tot.snapshots += res.stats.snapshots;
    tot.confChanges += res.stats.confChanges;
    tot.reads += res.stats.reads;
    tot.leaders += res.stats.leaders;
  }
  assert.ok(tot.snapshots > 20, `snapshots installed: ${tot.snapshots}`);
  assert.ok(tot.confChanges > 40 * 4, `conf changes committed: ${tot.confChanges}`);
  assert.ok(tot.reads > 100, `reads: ${tot.reads}`);
  assert.ok(tot.leaders > 80, `leaders: ${tot.leaders}`);
});
