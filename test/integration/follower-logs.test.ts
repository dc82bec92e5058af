// `docker service logs` sent to a manager that is not the Raft leader: 3 managers + 1 worker (real
// Shoal daemons on loopback, process runtime, real docker CLI, 50 ms Raft ticks). Only the leader holds
// the nodes' dispatcher sessions, so the follower must get other nodes' lines through the leader.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode, type TaskJson } from '../harness/cluster';
import { waitFor } from '../harness/daemon';
import { leaderOf, waitManagerStatus } from '../harness/managers';

describe('service logs on a follower manager', { concurrency: false, timeout: 180_000 }, () => {
  let c: TestCluster;
  let leader: ClusterNode, follower: ClusterNode, w: ClusterNode;
  let managers: ClusterNode[];
  let tasks: TaskJson[];
  const host = (nodeId: string | undefined) => c.nodes.find((n) => n.nodeId === nodeId)!.hostname;
  const prefixOf = (t: TaskJson) => `chatty.${t.Slot}.${t.ID}@${host(t.NodeID)}`;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  /** The leader as `n` sees it, once `reachable` other managers are Reachable. */
  const leaderSeenBy = async (n: ClusterNode, reachable: number) => {
    const s = await waitManagerStatus(c, n, (st) => [...st.values()].filter((v) => v === 'Reachable').length === reachable && leaderOf(st).length === 1, `one Leader and ${reachable} Reachable managers`, 30_000);
    return managers.find((m) => m.hostname === leaderOf(s)[0])!;
  };
  const ticks = (out: string, t: TaskJson) => [...out.matchAll(new RegExp(`^${escape(prefixOf(t))}\\s+\\| tick-(\\d+)$`, 'gm'))].map((m) => Number(m[1]));

  before(async () => {
    c = new TestCluster({ workers: 1, heartbeat: '1s', daemonArgs: ['--raft-tick-ms', '50'], hostPrefix: 'flw' });
    await c.start();
    w = c.workers[0]!;
    const m1 = await c.addManager(c.manager);
    const m2 = await c.addManager(c.manager);
    managers = [c.manager, m1, m2];
    // Which manager leads, as a follower sees it once both joiners are Reachable.
    leader = await leaderSeenBy(m2, 2);
    follower = managers.find((m) => m !== leader)!;
    c.manager.dockerOk([
      'service', 'create', '--detach', '--stop-grace-period', '1s', '--name', 'chatty', '--replicas', '4', '--replicas-max-per-node', '1',
      'busybox', 'sh', '-c', 'echo hello-chatty; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done',
    ]);
    tasks = await waitFor(async () => {
      const r = await c.running('chatty');
      return r.length === 4 ? r : null;
    }, 30_000, '4 chatty tasks running');
    assert.equal(new Set(tasks.map((t) => t.NodeID)).size, 4, 'one task per node');
  });
  after(async () => {
    if (!c) return;
    // A killed daemon comes back so that it stops its task (tasks outlive their daemon).
    for (const n of c.nodes) if (n.killed) await c.restart(n).catch(() => undefined);
    for (const m of managers ?? []) if (!m.killed && m.docker(['service', 'rm', 'chatty']).status === 0) break;
    await waitFor(async () => (await c.tasks()).length === 0, 20_000, 'chatty gone').catch(() => undefined);
    await Promise.all(c.nodes.map((n) => n.daemon.cleanup().catch(() => undefined)));
  });

  test('a follower shows the lines of tasks on the leader, the worker, the other follower and itself', async () => {
    const out = await waitFor(() => {
      const o = follower.dockerOk(['service', 'logs', '--no-trunc', 'chatty']);
      return tasks.every((t) => new RegExp(`^${escape(prefixOf(t))}\\s+\\| hello-chatty$`, 'm').test(o)) ? o : null;
    }, 20_000, 'hello-chatty from every node through the follower').catch((e: Error) => assert.fail(`${e.message}\n${follower.docker(['service', 'logs', '--no-trunc', 'chatty']).stdout}`));
    for (const t of tasks) assert.ok(ticks(out, t).length > 0, `ticks of the task on ${host(t.NodeID)}`);
  });

  test('--tail and --timestamps on a follower behave as on the leader', async () => {
    for (const n of [follower, leader]) {
      const lines = n.dockerOk(['service', 'logs', '--raw', '--timestamps', '--tail', '1', 'chatty']).trim().split('\n');
      assert.equal(lines.length, 4, `${n.hostname}: one line per task: ${lines.join('|')}`);
      for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z tick-\d+$/);
    }
  });

  test('docker service logs <task> on a follower, for a task on the worker and one on the leader', async () => {
    for (const on of [w, leader]) {
      const t = tasks.find((x) => x.NodeID === on.nodeId)!;
      const out = follower.dockerOk(['service', 'logs', '--no-trunc', t.ID]);
      assert.match(out, new RegExp(`^${escape(prefixOf(t))}\\s+\\| hello-chatty$`, 'm'), `${on.hostname}'s task`);
      assert.ok(!tasks.some((x) => x !== t && out.includes(x.ID)), 'only that task');
    }
  });

  test('--follow on a follower streams lines printed later on the other nodes', async () => {
    const before = follower.dockerOk(['service', 'logs', '--no-trunc', 'chatty']);
    const remote = tasks.filter((t) => t.NodeID !== follower.nodeId);
    const maxBefore = new Map(remote.map((t) => [t.ID, Math.max(0, ...ticks(before, t))]));
    const f = follower.daemon.dockerBackground(['service', 'logs', '--follow', '--no-trunc', '--tail', '0', 'chatty']);
    try {
      await waitFor(() => remote.every((t) => ticks(f.out(), t).some((n) => n > maxBefore.get(t.ID)! + 2)), 20_000, 'new ticks from every other node').catch((e: Error) =>
        assert.fail(`${e.message}\n${f.out()}\n${f.err()}`),
      );
    } finally {
      f.stop();
    }
    // The follow ended on the client's side; the follower (and the leader behind it) still answer.
    assert.match(follower.dockerOk(['service', 'logs', '--tail', '1', '--no-trunc', 'chatty']), /tick-\d+/);
  });

  test('the leader is killed during a follow: the follower keeps answering; service logs then goes through the new leader', async () => {
    const f = follower.daemon.dockerBackground(['service', 'logs', '--follow', '--no-trunc', '--tail', '0', 'chatty']);
    const wTask = tasks.find((t) => t.NodeID === w.nodeId)!;
    try {
      await waitFor(() => ticks(f.out(), wTask).length > 0, 20_000, 'the follow streams');
      c.kill9(leader);
      const survivors = managers.filter((m) => m !== leader);
      const newLeader = await leaderSeenBy(follower, 1);
      assert.notEqual(newLeader, leader);
      // Ask the survivor that does not lead, so the logs are forwarded to the new leader.
      const asker = survivors.find((m) => m !== newLeader)!;
      const maxBefore = Math.max(0, ...ticks(asker.dockerOk(['service', 'logs', '--no-trunc', '--tail', '1', wTask.ID]), wTask));
      await waitFor(() => ticks(asker.dockerOk(['service', 'logs', '--no-trunc', '--tail', '3', wTask.ID]), wTask).some((n) => n > maxBefore + 2), 30_000, `fresh lines of the worker's task through ${asker.hostname}`);
      assert.equal(follower.daemon.proc?.exitCode, null, 'the follower daemon did not crash');
    } finally {
      f.stop();
    }
  });
});
