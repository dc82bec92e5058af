// Issue 15's scale smoke test: 3 real managers (Raft with fsync, Docker's 1 s ticks) and 200 simulated nodes
// (test/harness/sim-nodes.ts: each joined with its own certificate, each in its own mTLS dispatcher
// session) run 5,000 replicas. It asserts correctness at that size, not speed: every task runs exactly
// once, on the node the managers assigned it to; every node is Ready; and after kill -9 of the leader
// no session is lost: every node is in session with the new leader, Ready, and runs the same tasks.
// Timings at scale are bench/scale.ts's job. Every wait is bounded.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ScaleCluster } from '../harness/scale-cluster';
import { waitFor } from '../harness/daemon';
import type { TaskJson } from '../harness/cluster';

const NODES = 200;
const TASKS = 5000;

describe('scale smoke: 200 simulated nodes, 5,000 tasks, 3 managers', { concurrency: false, timeout: 300_000 }, () => {
  let sc: ScaleCluster;
  let service = '';

  before(async () => {
    sc = new ScaleCluster({ nodes: NODES, managers: 3, procs: 2, heartbeat: '5s', hostPrefix: 'smoke-mgr' });
    await sc.start();
  });
  after(() => sc?.stop());

  /** Every task of the service as the leader's API lists it. */
  const tasks = async (): Promise<TaskJson[]> => {
    const r = await sc.api.daemon.api<TaskJson[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`);
    assert.equal(r.status, 200);
    return r.body;
  };

  /** Running tasks on the simulated nodes must be exactly the store's running tasks, each once, where assigned. */
  const assertRunningExactlyOnce = async () => {
    const all = await tasks();
    const running = all.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
    assert.equal(running.length, TASKS, 'running tasks in the store');
    const byNode = Object.assign({}, ...(await Promise.all(sc.fleets.map((f) => f.runningByNode())))) as Record<string, string[]>;
    const where = new Map<string, string>();
    for (const [node, ids] of Object.entries(byNode)) {
      for (const id of ids) {
        assert.ok(!where.has(id), `task ${id} runs on ${where.get(id)} and on ${node}`);
        where.set(id, node);
      }
    }
    assert.equal(where.size, TASKS, 'tasks running on the simulated nodes');
    for (const t of running) assert.equal(where.get(t.ID), t.NodeID, `task ${t.ID} runs where the managers put it`);
    const slots = new Set(running.map((t) => t.Slot));
    assert.equal(slots.size, TASKS, 'one running task per slot');
  };

  const assertAllReady = async () => {
    const nodes = await sc.nodes();
    const workers = nodes.filter((n) => n.Spec.Role === 'worker');
    assert.equal(workers.length, NODES);
    assert.deepEqual(
      workers.filter((n) => n.Status.State !== 'ready').map((n) => `${n.Description.Hostname}: ${n.Status.State}`),
      [],
    );
  };

  test('5,000 replicas run exactly once over 200 Ready nodes', async () => {
    await assertAllReady();
    service = await sc.createService({
      Name: 'smoke',
      TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '100000'] } },
      Mode: { Replicated: { Replicas: TASKS } },
    });
    await sc.waitCounts(service, (c) => c.running === TASKS, `${TASKS} running`, Date.now(), 180_000);
    await assertRunningExactlyOnce();
    // spread: no node is left without work, none takes more than its share and a bit
    const perNode = new Map<string, number>();
    for (const t of await tasks()) if (t.NodeID) perNode.set(t.NodeID, (perNode.get(t.NodeID) ?? 0) + 1);
    assert.equal(perNode.size, NODES);
    assert.ok(Math.max(...perNode.values()) <= Math.ceil(TASKS / NODES) + 1, `at most ${Math.ceil(TASKS / NODES) + 1} per node`);
  });

  test('kill -9 of the leader: every session comes back, every node stays Ready, no task moves or runs twice', async () => {
    const before = new Map((await tasks()).filter((t) => t.Status.State === 'running').map((t) => [t.ID, t.NodeID]));
    const leader = await sc.leader();
    assert.ok(leader, 'a leader');
    sc.cluster.kill9(leader);
    const survivor = sc.managers.find((m) => m !== leader)!;
    // the survivors name the killed manager as leader until their election timeout: wait for another
    const next = await waitFor(
      async () => {
        const l = await sc.leader(survivor).catch(() => undefined);
        return l && l !== leader ? l : undefined;
      },
      60_000,
      'a new leader',
      200,
    );
    assert.notEqual(next.hostname, leader.hostname);
    // every simulated node holds a session again (with the new leader: followers refuse sessions)
    await waitFor(
      async () => {
        const st = await sc.fleetStats();
        return st.connected === NODES && st.alive === NODES;
      },
      60_000,
      'every node in session again',
      200,
    );
    await waitFor(async () => (await sc.readyWorkers()) === NODES, 60_000, 'every node Ready on the new leader', 200);
    await assertAllReady();
    await assertRunningExactlyOnce();
    const afterwards = new Map((await tasks()).filter((t) => t.Status.State === 'running').map((t) => [t.ID, t.NodeID]));
    assert.deepEqual(afterwards, before, 'the same tasks run on the same nodes');
    const st = await sc.fleetStats();
    assert.equal(st.duplicates, 0);
    assert.equal(st.running, TASKS);
  });
});
