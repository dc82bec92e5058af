// Agents hold their sessions through any manager (issue 15's failover at scale): 3 managers and a worker
// that joined through a follower, real daemons on loopback, the real docker CLI, process runtime. The
// follower relays the worker's dispatcher calls to the leader, whose log names the relay. kill -9 of the
// leader: the worker's next session goes through the same follower (no new manager, no redirect), it is
// Ready under the new leader and its tasks are the same processes. Every wait is bounded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { pidAlive, waitFor, type TaskJson } from '../harness/daemon';

interface SessionLine {
  nodeId: string;
  relayedBy?: string;
  time: number;
}

/** The sessions `n`'s dispatcher started, from its log (pino JSON lines). */
function sessionsStarted(n: ClusterNode): SessionLine[] {
  const text = fs.readFileSync(path.join(n.daemon.dataDir, 'daemon.log'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.includes('dispatcher: session started'))
    .map((l) => JSON.parse(l) as SessionLine);
}

describe('dispatcher relay: a worker through a follower manager', { concurrency: false, timeout: 150_000 }, () => {
  let c: TestCluster;
  let m0: ClusterNode, m1: ClusterNode, m2: ClusterNode, w: ClusterNode;

  before(async () => {
    c = new TestCluster({ workers: 0, heartbeat: '1s', daemonArgs: ['--raft-tick-ms', '50'], hostPrefix: 'relay' });
    await c.start();
    m0 = c.manager;
    m1 = await c.addManager(m0);
    m2 = await c.addManager(m0);
    w = await c.addWorker(m1);
  });
  after(async () => {
    await c?.cleanup();
  });

  const tasksVia = async (n: ClusterNode): Promise<TaskJson[] | undefined> => {
    const r = await n.daemon.api<TaskJson[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['relayed'] }))}`).catch(() => undefined);
    return r?.status === 200 ? r.body : undefined;
  };
  const runningVia = async (n: ClusterNode) => (await tasksVia(n))?.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');

  test("the worker's session is relayed by the manager it joined through; its tasks run", async () => {
    const started = sessionsStarted(m0).filter((s) => s.nodeId === w.nodeId);
    assert.ok(started.length >= 1, 'the leader started a session for the worker');
    assert.equal(started.at(-1)!.relayedBy, m1.nodeId, 'relayed by the follower it joined through');
    assert.deepEqual(sessionsStarted(m1), [], "the follower's own dispatcher started none");
    m0.dockerOk(['service', 'create', '--detach', '--name', 'relayed', '--replicas', '2', '--constraint', 'node.role==worker', '--stop-grace-period', '1s', 'busybox', 'sleep', '1000']);
    await waitFor(async () => (await runningVia(m0))?.length === 2, 30_000, 'relayed: 2 running on the worker');
  });

  test("the worker's log lines reach `docker service logs` on the leader and on the other follower through the relay", async () => {
    m0.dockerOk(['service', 'create', '--detach', '--name', 'talker', '--constraint', 'node.role==worker', '--stop-grace-period', '1s', 'busybox', 'sh', '-c', 'echo relayed-line; sleep 1000']);
    await waitFor(async () => (await m0.daemon.api<TaskJson[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['talker'] }))}`)).body.some((t) => t.Status.State === 'running'), 30_000, 'talker running');
    for (const m of [m0, m2]) {
      await waitFor(() => /\| relayed-line$/m.test(m.docker(['service', 'logs', 'talker']).stdout), 20_000, `relayed-line through ${m.hostname}`, 200);
    }
    m0.dockerOk(['service', 'rm', 'talker']);
  });

  test('kill -9 of the leader: the worker keeps its relay, is Ready under the new leader, and its tasks are the same processes', async () => {
    const before = (await runningVia(m0))!;
    assert.equal(before.length, 2);
    const killedAt = Date.now();
    c.kill9(m0);
    const survivors = [m1, m2];
    // a new leader, with a session of the worker opened after the kill
    const { leader, line } = await waitFor(
      () => {
        for (const m of survivors) {
          const s = sessionsStarted(m).filter((x) => x.nodeId === w.nodeId && x.time > killedAt);
          if (s.length) return { leader: m, line: s.at(-1)! };
        }
        return undefined;
      },
      30_000,
      "the worker's session with the new leader",
      100,
    );
    // through the same follower: relayed by it, or local to it if it is the new leader itself
    if (leader === m1) assert.equal(line.relayedBy, undefined, 'the follower became the leader: the session is its own');
    else assert.equal(line.relayedBy, m1.nodeId, 'the new leader hears the worker through the same follower');
    await waitFor(
      async () => {
        const r = await leader.daemon.api<{ ID: string; Status: { State: string } }[]>('GET', '/v1.47/nodes').catch(() => undefined);
        return r?.status === 200 && r.body.find((n) => n.ID === w.nodeId)?.Status.State === 'ready';
      },
      20_000,
      `the worker Ready under ${leader.hostname}`,
      100,
    );
    await waitFor(
      async () => {
        const now = await runningVia(leader);
        return now?.length === 2 && now.every((t) => before.some((b) => b.ID === t.ID && b.Status.ContainerStatus?.PID === t.Status.ContainerStatus?.PID));
      },
      20_000,
      'the same two tasks running',
      200,
    );
    for (const t of before) assert.ok(pidAlive(t.Status.ContainerStatus!.PID!), `task ${t.ID} still alive`);
  });
});
