// Issue 3 end to end: several managers replicating the store with Raft, each a real Shoal daemon on
// its own loopback address, driven through the real docker CLI (process runtime). Raft ticks are
// 50 ms (--raft-tick-ms) so elections take well under a second; every wait is bounded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { waitFor } from '../harness/daemon';

const NO_LEADER =
  "Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

describe('several managers through the docker CLI', { concurrency: false, timeout: 240_000 }, () => {
  let c: TestCluster;
  let m0: ClusterNode, m1: ClusterNode, m2: ClusterNode, w: ClusterNode;
  let managers: ClusterNode[];

  /** hostname → MANAGER STATUS as `docker node ls` on `n` prints it. */
  const status = (n: ClusterNode): Map<string, string> => {
    const out = n.dockerOk(['node', 'ls', '--format', '{{.Hostname}}|{{.ManagerStatus}}']);
    return new Map(out.trim().split('\n').map((l) => l.split('|') as [string, string]));
  };
  const tryStatus = (n: ClusterNode): Map<string, string> | undefined => {
    const r = n.docker(['node', 'ls', '--format', '{{.Hostname}}|{{.ManagerStatus}}']);
    if (r.status !== 0) return undefined;
    return new Map(r.stdout.trim().split('\n').map((l) => l.split('|') as [string, string]));
  };
  /** Waits until `n` sees a leader among `among` and everything in `want` (hostname → status). */
  const waitStatus = async (n: ClusterNode, want: Record<string, string | ((s: string) => boolean)>, ms = 20_000) => {
    let seen = '';
    return waitFor(
      () => {
        const r = n.docker(['node', 'ls', '--format', '{{.Hostname}}|{{.ManagerStatus}}']);
        seen = r.stdout + r.stderr;
        const s = tryStatus(n);
        if (!s) return undefined;
        for (const [h, v] of Object.entries(want)) {
          const got = s.get(h) ?? '';
          if (typeof v === 'string' ? got !== v : !v(got)) return undefined;
        }
        return s;
      },
      ms,
      `${n.hostname} to see ${JSON.stringify(Object.keys(want))}`,
      100,
    ).catch((e: Error) => {
      const logs = c.nodes.map((x) => `--- ${x.hostname} ---\n${x.daemon.log()}`).join('\n');
      throw new Error(`${e.message}\nlast node ls on ${n.hostname}:\n${seen}\n${process.env.SHOAL_TEST_LOGS ? logs : ''}`);
    });
  };
  const leaderOf = (s: Map<string, string>) => [...s].filter(([, v]) => v === 'Leader').map(([h]) => h);
  const create = (n: ClusterNode, name: string) =>
    n.dockerOk(['service', 'create', '--detach', '--stop-grace-period', '1s', '--name', name, '--replicas', '1', 'busybox', 'sleep', '1000']).trim();
  const services = (n: ClusterNode) => n.dockerOk(['service', 'ls', '--format', '{{.Name}}']).trim().split('\n').filter(Boolean).sort();
  const byHost = (h: string) => managers.find((m) => m.hostname === h)!;
  /** Running tasks of a service, as manager `n` reports them. */
  const running = async (n: ClusterNode, svc: string) => {
    const r = await n.daemon.api<{ DesiredState: string; Status: { State: string } }[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [svc] }))}`);
    return r.status === 200 ? r.body.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running').length : 0;
  };

  before(async () => {
    c = new TestCluster({ workers: 1, heartbeat: '1s', daemonArgs: ['--raft-tick-ms', '50'], hostPrefix: 'mgr' });
    await c.start();
    m0 = c.manager;
    w = c.workers[0]!;
    m1 = await c.addManager(m0);
    // The third joins through a follower: the follower forwards the join to the leader.
    m2 = await c.addManager(m1);
    managers = [m0, m1, m2];
  });
  after(async () => {
    if (!c) return;
    for (const n of c.nodes) if (n.killed) await c.restart(n).catch(() => undefined);
    // Remove the services through whichever manager answers, so no task process outlives the test.
    for (const n of managers ?? []) {
      const r = n.docker(['service', 'ls', '-q']);
      if (r.status !== 0) continue;
      const ids = r.stdout.trim();
      if (ids) n.docker(['service', 'rm', ...ids.split('\n')]);
      await waitFor(() => n.docker(['service', 'ps', '-q', ...(ids ? ids.split('\n') : [])]).stdout.trim() === '', 20_000, 'tasks gone').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1500));
      break;
    }
    await Promise.all(c.nodes.map((n) => n.daemon.cleanup().catch(() => undefined)));
  });

  test('managers join; node ls shows one Leader and two Reachable on every manager', async () => {
    for (const n of [m0, m1, m2]) {
      const s = await waitStatus(n, { [m0.hostname]: 'Leader', [m1.hostname]: 'Reachable', [m2.hostname]: 'Reachable', [w.hostname]: '' });
      assert.equal(s.size, 4);
    }
    const info = JSON.parse(m2.dockerOk(['info', '--format', '{{json .Swarm}}']));
    assert.equal(info.ControlAvailable, true);
    assert.equal(info.Managers, 3);
    // A follower forwards writes to the leader.
    create(m1, 'via-follower');
    assert.deepEqual(services(m0), ['via-follower']);
    await waitFor(async () => (await c.running('via-follower')).length === 1, 20_000, 'via-follower running');
  });

  test('kill -9 of the leader: a new leader is elected, writes work on a survivor, the killed one is Unreachable', async () => {
    c.kill9(m0);
    const s = await waitStatus(m1, { [m0.hostname]: 'Unreachable', [m1.hostname]: (v) => v === 'Leader' || v === 'Reachable' }, 30_000);
    assert.equal(leaderOf(s).length, 1);
    assert.notEqual(leaderOf(s)[0], m0.hostname);
    create(m2, 'after-failover');
    assert.deepEqual(services(m1), ['after-failover', 'via-follower']);
    // The new leader's scheduler places it and the agents, now in session with the new leader, run it.
    await waitFor(async () => (await running(m2, 'after-failover')) === 1, 30_000, 'after-failover running');
  });

  test('the restarted old leader comes back as a Reachable follower', async () => {
    await c.restart(m0);
    const s = await waitStatus(m1, { [m0.hostname]: 'Reachable' }, 30_000);
    assert.equal(leaderOf(s).length, 1);
    assert.notEqual(leaderOf(s)[0], m0.hostname);
    // It answers again once it has heard from the leader.
    await waitFor(() => m0.docker(['service', 'ls']).status === 0, 20_000, `${m0.hostname} answers`);
    assert.deepEqual(services(m0), ['after-failover', 'via-follower']);
  });

  test('two of three managers down: the survivor answers with Docker\'s no-leader error; they come back without help', async () => {
    const leader = byHost(leaderOf(status(m1))[0]!);
    const other = managers.find((m) => m !== leader && m !== m2) ?? m0;
    const survivor = managers.find((m) => m !== leader && m !== other)!;
    c.kill9(leader);
    c.kill9(other);
    const r = await waitFor(
      () => {
        const x = survivor.docker(['node', 'ls']);
        return x.status !== 0 && x.stderr.includes('does not have a leader') ? x : undefined;
      },
      30_000,
      'the no-leader error',
    );
    assert.equal(r.stderr.trim(), NO_LEADER);
    const ls = survivor.docker(['service', 'ls']);
    assert.equal(ls.stderr.trim(), NO_LEADER);
    const api = await survivor.daemon.api('GET', '/v1.47/nodes');
    assert.equal(api.status, 500);
    await c.restart(leader);
    await c.restart(other);
    const s = await waitStatus(survivor, { [m0.hostname]: (v) => v !== 'Unreachable', [m1.hostname]: (v) => v !== 'Unreachable', [m2.hostname]: (v) => v !== 'Unreachable' }, 30_000);
    assert.equal(leaderOf(s).length, 1);
    assert.deepEqual(services(survivor), ['after-failover', 'via-follower']);
    for (const m of managers) await waitFor(() => m.docker(['service', 'ls']).status === 0, 20_000, `${m.hostname} answers`);
  });

  test('swarm update --snapshot-interval applies without a restart: every manager snapshots; the next test restarts from those snapshots', async () => {
    const snapshots = (n: ClusterNode) => {
      const dir = path.join(n.daemon.dataDir, 'manager', 'raft', 'snapshots');
      return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.snap')) : [];
    };
    for (const m of managers) assert.deepEqual(snapshots(m), [], `${m.hostname} has no snapshot at Docker's default interval (10000)`);
    m1.dockerOk(['swarm', 'update', '--snapshot-interval', '20']);
    const raft = JSON.parse(m2.dockerOk(['info', '--format', '{{json .Swarm.Cluster.Spec.Raft}}']));
    assert.equal(raft.SnapshotInterval, 20);
    // More than 20 entries: label updates, one Raft entry each.
    for (let i = 0; i < 25; i++) m0.dockerOk(['node', 'update', '--label-add', `round=${i}`, w.hostname]);
    for (const m of managers) await waitFor(() => snapshots(m).length > 0, 20_000, `a snapshot on ${m.hostname}`);
  });

  test('every manager killed with -9 and started again keeps all committed state and elects a leader', async () => {
    create(m0, 'before-crash');
    for (const m of managers) c.kill9(m);
    await Promise.all(managers.map((m) => c.restart(m)));
    const s = await waitStatus(m2, { [m0.hostname]: (v) => v !== 'Unreachable', [m1.hostname]: (v) => v !== 'Unreachable', [m2.hostname]: (v) => v !== 'Unreachable' }, 30_000);
    assert.equal(leaderOf(s).length, 1);
    for (const m of managers) assert.deepEqual(services(m), ['after-failover', 'before-crash', 'via-follower']);
  });

  test('promote a worker: it becomes a Reachable manager; demote it back', async () => {
    m1.dockerOk(['node', 'promote', w.hostname]);
    await waitStatus(m0, { [w.hostname]: 'Reachable' }, 30_000);
    await waitFor(() => w.docker(['node', 'ls']).status === 0, 20_000, 'the promoted node answers node ls');
    assert.equal(JSON.parse(w.dockerOk(['info', '--format', '{{json .Swarm.ControlAvailable}}'])), true);
    m1.dockerOk(['node', 'demote', w.hostname]);
    await waitStatus(m0, { [w.hostname]: '' }, 30_000);
    await waitFor(() => w.docker(['node', 'ls']).stderr.includes('not a swarm manager'), 30_000, 'the demoted node refuses node ls');
    const role = m0.dockerOk(['node', 'inspect', '--format', '{{.Spec.Role}}', w.hostname]).trim();
    assert.equal(role, 'worker');
  });

  test('a manager leaves with swarm leave --force: it is out of Raft, the two others keep a quorum', async () => {
    m2.dockerOk(['swarm', 'leave', '--force']);
    const rest = [m0, m1];
    const s = await waitStatus(m0, { [m2.hostname]: '' }, 30_000);
    assert.equal(leaderOf(s).length, 1);
    assert.equal([...s.values()].filter((v) => v === 'Reachable').length, 1);
    create(m0, 'after-leave');
    for (const n of rest) assert.ok(services(n).includes('after-leave'));
    assert.equal(m0.dockerOk(['node', 'inspect', '--format', '{{.Spec.Role}}', m2.hostname]).trim(), 'worker');
  });

  test('swarm init --force-new-cluster recovers a lone survivor with its state; demoting the last manager is refused', async () => {
    // Of two managers one stops: no quorum. The survivor forces a new cluster of one.
    c.kill9(m1);
    await waitFor(() => m0.docker(['node', 'ls']).stderr.includes('does not have a leader'), 30_000, 'quorum lost');
    m0.dockerOk(['swarm', 'init', '--force-new-cluster', '--advertise-addr', m0.ip, '--listen-addr', `${m0.ip}:${c.port}`]);
    const s = await waitStatus(m0, { [m0.hostname]: 'Leader' }, 20_000);
    assert.deepEqual(leaderOf(s), [m0.hostname]);
    assert.deepEqual(services(m0), ['after-failover', 'after-leave', 'before-crash', 'via-follower']);
    create(m0, 'after-force');
    await waitFor(async () => (await running(m0, 'after-force')) === 1, 30_000, 'after-force running');
    const r = m0.docker(['node', 'demote', m0.hostname]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /attempting to demote the last manager of the swarm/);
  });
});
