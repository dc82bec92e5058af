// Issue 3's promise for a bigger swarm: 7 managers tolerate (7-1)/2 = 3 failures. Seven real Shoal
// daemons (process runtime, no workers: managers run the tasks), each on its own loopback address,
// driven through the real docker CLI. Raft ticks are 50 ms (--raft-tick-ms) so elections and the
// check-quorum step-down take well under a second; every wait is bounded.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { waitFor } from '../harness/daemon';
import { NO_LEADER, createSleepService, leaderOf, runningTasks, serviceNames, tearDownManagers, waitManagerStatus, type ManagerStatus } from '../harness/managers';

describe('seven managers survive three failures (docker CLI)', { concurrency: false, timeout: 240_000 }, () => {
  let c: TestCluster | undefined;
  let managers: ClusterNode[] = [];
  /** The managers killed in the failover test (the first leader among them). */
  let down: ClusterNode[] = [];
  /** The fourth one, killed to lose the quorum. */
  let fourth: ClusterNode | undefined;

  const byHost = (h: string) => managers.find((m) => m.hostname === h)!;
  const waitStatus = (n: ClusterNode, ok: (s: ManagerStatus) => boolean, what: string, ms = 20_000) => waitManagerStatus(c, n, ok, what, ms);
  /** Exactly one Leader and every other manager Reachable. */
  const allHealthy = (s: Map<string, string>) =>
    s.size === 7 && managers.every((m) => s.has(m.hostname)) && leaderOf(s).length === 1 && [...s.values()].filter((v) => v === 'Reachable').length === 6;

  before(async () => {
    c = new TestCluster({ workers: 0, heartbeat: '1s', daemonArgs: ['--raft-tick-ms', '50'], hostPrefix: 'mgr7' });
    await c.start();
    managers = [c.manager];
    // Alternate the node joins through (the leader, then followers, which forward the join).
    for (let i = 1; i < 7; i++) managers.push(await c.addManager(managers[(i - 1) % 2]!));
  });

  after(() => tearDownManagers(c, managers));

  test('seven managers: node ls shows one Leader and six Reachable; a service runs', async () => {
    assert.equal(managers.length, 7);
    const s = await waitStatus(managers[6]!, allHealthy, '1 Leader + 6 Reachable', 30_000);
    assert.deepEqual(leaderOf(s), [managers[0]!.hostname]);
    const info = JSON.parse(managers[3]!.dockerOk(['info', '--format', '{{json .Swarm}}']));
    assert.equal(info.ControlAvailable, true);
    assert.equal(info.Managers, 7);
    assert.equal(info.Nodes, 7);
    createSleepService(managers[2]!, 'first');
    assert.deepEqual(serviceNames(managers[5]!), ['first']);
    await waitFor(async () => (await runningTasks(managers[0]!, 'first')) === 1, 20_000, 'first running');
  });

  test('kill -9 of three managers including the leader: a new leader, writes work, the three are Unreachable', async () => {
    const cl = c!;
    const leader = byHost(leaderOf((await waitStatus(managers[1]!, (s) => leaderOf(s).length === 1, 'a leader'))!)[0]!);
    const others = managers.filter((m) => m !== leader);
    down = [leader, others[0]!, others[1]!];
    for (const m of down) cl.kill9(m);
    const survivors = managers.filter((m) => !down.includes(m));
    assert.equal(survivors.length, 4);
    const [a, b] = survivors as [ClusterNode, ClusterNode];
    const t0 = Date.now();
    const s = await waitStatus(
      a,
      (st) => leaderOf(st).length === 1 && down.every((m) => st.get(m.hostname) === 'Unreachable') && survivors.every((m) => ['Leader', 'Reachable'].includes(st.get(m.hostname) ?? '')),
      'a new leader among the survivors and the three killed Unreachable',
      20_000,
    );
    assert.ok(survivors.some((m) => m.hostname === leaderOf(s)[0]), `new leader ${leaderOf(s)[0]} is a survivor`);
    createSleepService(a, 'second');
    assert.ok(Date.now() - t0 < 20_000, 'failover and a write within 20 s');
    assert.deepEqual(serviceNames(b), ['first', 'second']);
    assert.deepEqual(serviceNames(survivors[3]!), ['first', 'second']);
    // The new leader's dispatcher has no session with the killed managers: they are Unknown (then Down),
    // never Ready, so its scheduler places the task on a live node and its agent runs it at once.
    const states = new Map(a.dockerOk(['node', 'ls', '--format', '{{.Hostname}}|{{.Status}}']).trim().split('\n').map((l) => l.split('|') as [string, string]));
    for (const m of down) assert.ok(['Unknown', 'Down'].includes(states.get(m.hostname) ?? ''), `${m.hostname} is ${states.get(m.hostname)}, not Ready`);
    await waitFor(async () => (await runningTasks(b, 'second')) === 1, 10_000, 'second running');
    const placed = await b.daemon.api<{ NodeID: string; DesiredState: string }[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['second'] }))}`);
    assert.deepEqual(placed.body.filter((t) => down.some((m) => m.nodeId === t.NodeID)), [], 'no task of second was placed on a killed manager');
  });

  test('kill -9 of a fourth manager: no quorum, the survivors answer with Docker\'s no-leader error', async () => {
    const cl = c!;
    const survivors = managers.filter((m) => !down.includes(m));
    const s = await waitStatus(survivors[0]!, (st) => leaderOf(st).length === 1, 'a leader');
    const leader = byHost(leaderOf(s)[0]!);
    // Kill a follower: the leader keeps running and has to notice by itself (check-quorum) that it lost the majority.
    fourth = survivors.find((m) => m !== leader)!;
    cl.kill9(fourth);
    const rest = survivors.filter((m) => m !== fourth);
    assert.equal(rest.length, 3);
    assert.ok(rest.includes(leader));
    for (const n of [leader, ...rest.filter((m) => m !== leader)]) {
      const r = await waitFor(
        () => {
          const x = n.docker(['node', 'ls'], { timeoutMs: 10_000 });
          return x.status !== 0 && x.stderr.includes('does not have a leader') ? x : undefined;
        },
        15_000,
        `the no-leader error on ${n.hostname}`,
      );
      assert.equal(r.stderr.trim(), NO_LEADER);
    }
    const w = leader.docker(['service', 'create', '--detach', '--name', 'no-quorum', 'busybox', 'sleep', '1000'], { timeoutMs: 20_000 });
    assert.notEqual(w.status, 0);
    assert.equal(w.stderr.trim(), NO_LEADER);
  });

  test('the four come back: a leader again, all seven Leader/Reachable, both services everywhere', async () => {
    const cl = c!;
    const back = [...down, fourth!];
    assert.equal(back.length, 4);
    await Promise.all(back.map((m) => cl.restart(m)));
    const s = await waitStatus(managers[6]!, allHealthy, '1 Leader + 6 Reachable after the restarts', 30_000);
    assert.equal(leaderOf(s).length, 1);
    for (const m of managers) {
      const names = await waitFor(
        () => {
          const r = m.docker(['service', 'ls', '--format', '{{.Name}}'], { timeoutMs: 10_000 });
          return r.status === 0 ? r.stdout.trim().split('\n').filter(Boolean).sort() : undefined;
        },
        20_000,
        `${m.hostname} answers service ls`,
      );
      assert.deepEqual(names, ['first', 'second'], `services on ${m.hostname}`);
    }
    const s2 = await waitStatus(back[0]!, allHealthy, '1 Leader + 6 Reachable seen by a restarted manager', 20_000);
    assert.deepEqual(leaderOf(s2), leaderOf(s));
  });
});
