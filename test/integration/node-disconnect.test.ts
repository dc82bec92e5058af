// A worker whose daemon dies (kill -9): its connection drops, so the manager marks it Down after the
// dispatcher's 1 s disconnect grace rather than after missed heartbeats, and its tasks run on the
// other worker. The heartbeat period is 20 s so that neither the heartbeat TTL (60.5 s) nor a grace of
// one period (20 s, the earlier rule) could explain a Down within the test's 10 s. A worker whose
// daemon is stopped (SIGTERM: a restart) says so first: it stays Ready past the grace, as in Docker
// until its heartbeats expire, and comes back to the same tasks. Real daemons, the real docker CLI.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster } from '../harness/cluster';
import { pidAlive, waitFor } from '../harness/daemon';

describe('node disconnect', { concurrency: false, timeout: 120_000 }, () => {
  let c: TestCluster;
  before(async () => {
    c = new TestCluster({ workers: 2, hostPrefix: 'disc', heartbeat: '20s' });
    await c.start();
  });
  after(async () => {
    await c?.cleanup();
  });

  test('kill -9 of a worker: Down by the disconnect grace, not by heartbeats; its tasks running on the surviving nodes', async () => {
    const period = JSON.parse(c.manager.dockerOk(['info', '--format', '{{json .Swarm.Cluster.Spec.Dispatcher.HeartbeatPeriod}}']));
    assert.equal(period, 20_000_000_000);
    c.manager.dockerOk(['service', 'create', '--detach', '--name', 'web', '--replicas', '4', '--restart-delay', '0s', '--stop-grace-period', '1s', 'busybox', 'sleep', '1000']);
    await waitFor(async () => (await c.running('web')).length === 4, 30_000, '4 web running');
    const [a, b] = c.workers as [(typeof c.workers)[0], (typeof c.workers)[0]];
    const victim = (await c.running('web')).some((t) => t.NodeID === a.nodeId) ? a : b;
    const survivorIds = new Set([c.manager.nodeId, (victim === a ? b : a).nodeId]);
    c.kill9(victim);
    // Only the disconnect grace can bring Down within 10 s.
    await c.waitNodeState(victim, 'down', 10_000);
    const node = (await c.nodeList()).find((n) => n.ID === victim.nodeId)!;
    assert.equal(node.Status.Message, 'heartbeat failure');
    await waitFor(async () => {
      const r = await c.running('web');
      return r.length === 4 && r.every((t) => survivorIds.has(t.NodeID!));
    }, 30_000, 'web running on the surviving nodes');
  });

  test('a worker daemon stopped on purpose (SIGTERM) stays Ready past the grace; restarted, it runs the same tasks', async () => {
    const w = c.workers.find((x) => !x.killed)!;
    const mine = async () => (await c.running('web')).filter((t) => t.NodeID === w.nodeId).map((t) => ({ id: t.ID, pid: t.Status.ContainerStatus?.PID }));
    const before = await mine();
    assert.ok(before.length > 0, 'the worker runs web tasks');
    await w.daemon.stop();
    // Three times the 1 s grace, well inside the 60.5 s heartbeat TTL: the node is Ready all along, its tasks stay.
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      const node = (await c.nodeList()).find((n) => n.ID === w.nodeId)!;
      assert.equal(node.Status.State, 'ready', `${w.hostname} while its daemon is stopped`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual((await mine()).map((t) => t.id).sort(), before.map((t) => t.id).sort(), 'no task moved away');
    await c.restart(w);
    await waitFor(async () => {
      const now = await mine();
      return now.length === before.length && now.every((t) => before.some((b) => b.id === t.id && b.pid === t.pid));
    }, 20_000, `${w.hostname}: the same tasks and processes after its restart`);
    for (const t of before) assert.ok(pidAlive(t.pid!), `task ${t.id} process alive`);
  });
});
