// A poisoned Raft log cannot brick a manager (issue 9). A real daemon writes two services; while it
// is stopped, the log entries of one are rewritten as an older version (or a bug) could have left
// them: 1e20 replicas, the spec that used to exhaust the heap on every restart. The daemon restarts
// and answers, the bad service is marked and never executed, the good one still runs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestDaemon, dockerAvailable, ping, waitFor } from '../harness/daemon';
import { decodeChanges, encodeChanges } from '../../src/manager/consensus/codec';
import { RaftDekFile, RAFT_DEK_FILE } from '../../src/manager/consensus';
import { RaftDiskStorage } from '../../src/manager/consensus/storage';

const skip = dockerAvailable() ? false : 'the docker CLI is not installed';

/** Rewrites every logged write of service `name` with `poison`; returns how many entries changed. */
async function poisonLog(dataDir: string, name: string, poison: (spec: Record<string, unknown>) => void): Promise<number> {
  const raftDir = path.join(dataDir, 'manager', 'raft');
  const snaps = fs.existsSync(path.join(raftDir, 'snapshots')) ? fs.readdirSync(path.join(raftDir, 'snapshots')).filter((f) => f.endsWith('.snap')) : [];
  assert.deepEqual(snaps, [], 'the test expects the whole history in the log (no snapshot yet)');
  // the log is sealed with the manager's DEK (docs/design/at-rest.md): poison it as a bug in this release would,
  // through the storage itself, which writes the entries back in the format it writes
  const disk = new RaftDiskStorage(raftDir, RaftDekFile.open(path.join(dataDir, 'certificates', RAFT_DEK_FILE)));
  let changed = 0;
  try {
    const st = disk.load();
    for (const e of st.entries) {
      if (e.type !== 'normal' || e.data.length === 0) continue;
      let hit = false;
      const changes = decodeChanges(e.data);
      for (const ch of changes) {
        if (ch.kind !== 'service' || ch.action === 'delete') continue;
        const spec = (ch.object as unknown as { Spec: Record<string, unknown> }).Spec;
        if (spec?.Name !== name) continue;
        poison(spec);
        hit = true;
      }
      if (!hit) continue;
      e.data = encodeChanges(changes);
      changed++;
    }
    // the whole log written again (same indexes and terms), the hard state as it was
    if (changed > 0) await disk.persist({ entries: st.entries, hardState: st.hardState }, 'blocking');
  } finally {
    await disk.close();
  }
  return changed;
}

let d: TestDaemon;

before(async () => {
  d = new TestDaemon({ runtime: 'process' });
});
after(async () => {
  await d?.teardown();
});

test('a manager whose log holds a 1e20-replica spec starts, answers, skips it and runs the others', { skip }, async () => {
  await d.start();
  d.dockerOk(['swarm', 'init']);
  d.dockerOk(['service', 'create', '-d', '--name', 'good', 'busybox', 'sleep', '1000']);
  d.dockerOk(['service', 'create', '-d', '--name', 'bad', '--replicas', '0', 'busybox', 'sleep', '1000']);
  await waitFor(async () => (await d.runningTasks('good')).length === 1, 30_000, 'good runs');
  await d.stop();

  const n = await poisonLog(d.dataDir, 'bad', (spec) => {
    spec.Mode = { Replicated: { Replicas: 1e20 } };
  });
  assert.ok(n >= 1, 'the log held the bad service');

  await d.start();
  assert.ok(await ping(d.sock));
  const bad = await waitFor(
    async () => {
      const r = await d.api<{ UpdateStatus?: { State: string; Message: string } }>('GET', '/v1.47/services/bad');
      return r.body.UpdateStatus?.Message?.startsWith('invalid service spec, not executed') ? r.body : undefined;
    },
    30_000,
    'bad service marked',
  );
  assert.equal(bad.UpdateStatus!.State, 'paused');
  assert.match(bad.UpdateStatus!.Message, /Number of replicas must be at most 1000000/);
  assert.match(d.log(), /stored service spec is invalid: not executed/);
  await waitFor(async () => (await d.runningTasks('good')).length === 1, 30_000, 'good still runs');
  assert.equal((await d.tasksOf('bad')).length, 0, 'no task of the bad service');
  // The manager stays usable: a new service converges.
  d.dockerOk(['service', 'create', '-d', '--name', 'after', 'busybox', 'sleep', '1000']);
  await waitFor(async () => (await d.runningTasks('after')).length === 1, 30_000, 'a new service runs');
  assert.ok(await ping(d.sock));
  // The bad spec can be replaced through the API (docker service rm works on it).
  d.dockerOk(['service', 'rm', 'bad']);
});
