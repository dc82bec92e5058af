// Issue 3 end to end: several managers replicating the store with Raft, each a real Shoal daemon on
// its own loopback address, driven through the real docker CLI (process runtime). Raft ticks are
// 50 ms (--raft-tick-ms) so elections take well under a second; every wait is bounded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { waitFor } from '../harness/daemon';
import { NO_LEADER, createSleepService, leaderOf, managerStatus, runningTasks, serviceNames, tearDownManagers, waitManagerStatus, type ManagerStatus } from '../harness/managers';

describe('several managers through the docker CLI', { concurrency: false, timeout: 240_000 }, () => {
  let c: TestCluster;
  let m0: ClusterNode, m1: ClusterNode, m2: ClusterNode, w: ClusterNode;
  let managers: ClusterNode[];

  /** Waits until `n` sees everything in `want` (hostname → MANAGER STATUS, or a test of it). */
  const waitStatus = (n: ClusterNode, want: Record<string, string | ((s: string) => boolean)>, ms = 20_000) =>
    waitManagerStatus(
      c,
      n,
      (s) => Object.entries(want).every(([h, v]) => (typeof v === 'string' ? (s.get(h) ?? '') === v : v(s.get(h) ?? ''))),
      `to see ${JSON.stringify(Object.keys(want))}`,
      ms,
    );
  const status = (n: ClusterNode): ManagerStatus => {
    const { status: s, output } = managerStatus(n);
    if (!s) throw new Error(`node ls on ${n.hostname} failed: ${output}`);
    return s;
  };
  const byHost = (h: string) => managers.find((m) => m.hostname === h)!;

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
  after(() => tearDownManagers(c, managers ?? []));

  test('managers join; node ls shows one Leader and two Reachable on every manager', async () => {
    for (const n of [m0, m1, m2]) {
      const s = await waitStatus(n, { [m0.hostname]: 'Leader', [m1.hostname]: 'Reachable', [m2.hostname]: 'Reachable', [w.hostname]: '' });
      assert.equal(s.size, 4);
    }
    const info = JSON.parse(m2.dockerOk(['info', '--format', '{{json .Swarm}}']));
    assert.equal(info.ControlAvailable, true);
    assert.equal(info.Managers, 3);
    // A follower forwards writes to the leader.
    createSleepService(m1, 'via-follower');
    assert.deepEqual(serviceNames(m0), ['via-follower']);
    await waitFor(async () => (await c.running('via-follower')).length === 1, 20_000, 'via-follower running');
  });

  test('kill -9 of the leader: a new leader is elected, writes work on a survivor, the killed one is Unreachable', async () => {
    c.kill9(m0);
    const s = await waitStatus(m1, { [m0.hostname]: 'Unreachable', [m1.hostname]: (v) => v === 'Leader' || v === 'Reachable' }, 30_000);
    assert.equal(leaderOf(s).length, 1);
    assert.notEqual(leaderOf(s)[0], m0.hostname);
    createSleepService(m2, 'after-failover');
    assert.deepEqual(serviceNames(m1), ['after-failover', 'via-follower']);
    // The new leader's scheduler places it and the agents, now in session with the new leader, run it.
    await waitFor(async () => (await runningTasks(m2, 'after-failover')) === 1, 30_000, 'after-failover running');
  });

  test('the restarted old leader comes back as a Reachable follower', async () => {
    await c.restart(m0);
    const s = await waitStatus(m1, { [m0.hostname]: 'Reachable' }, 30_000);
    assert.equal(leaderOf(s).length, 1);
    assert.notEqual(leaderOf(s)[0], m0.hostname);
    // It answers again once it has heard from the leader.
    await waitFor(() => m0.docker(['service', 'ls']).status === 0, 20_000, `${m0.hostname} answers`);
    assert.deepEqual(serviceNames(m0), ['after-failover', 'via-follower']);
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
    assert.deepEqual(serviceNames(survivor), ['after-failover', 'via-follower']);
    for (const m of managers) await waitFor(() => m.docker(['service', 'ls']).status === 0, 20_000, `${m.hostname} answers`);
  });

  test('swarm update --snapshot-interval applies without a restart: every manager snapshots; the next test restarts from those snapshots', async () => {
    const snapshots = (n: ClusterNode) => {
      const dir = path.join(n.daemon.dataDir, 'manager', 'raft', 'snapshots');
      return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.snap')) : [];
    };
    for (const m of managers) assert.deepEqual(snapshots(m), [], `${m.hostname} has no snapshot at Docker's default interval (10000)`);
    m1.dockerOk(['swarm', 'update', '--snapshot-interval', '20', '--max-snapshots', '1']);
    // Read back on the manager that forwarded the write: it waits to apply it before answering.
    const raft = JSON.parse(m1.dockerOk(['info', '--format', '{{json .Swarm.Cluster.Spec.Raft}}']));
    assert.equal(raft.SnapshotInterval, 20);
    assert.equal(raft.KeepOldSnapshots, 1);
    // More than 2 × 20 entries: label updates, one Raft entry each. Two snapshots, the older one kept.
    // The worker's agent may write its node meanwhile (a new session): the CLI's read-modify-write then
    // fails with Docker's "update out of sequence", and is tried again as a user would.
    for (let i = 0; i < 45; i++) {
      await waitFor(() => {
        const r = m0.docker(['node', 'update', '--label-add', `round=${i}`, w.hostname]);
        if (r.status !== 0 && !r.stderr.includes('update out of sequence')) throw new Error(`node update failed: ${r.stderr}`);
        return r.status === 0;
      }, 10_000, `label round=${i}`);
    }
    for (const m of managers) await waitFor(() => snapshots(m).length === 2, 20_000, `two snapshots on ${m.hostname}`);
  });

  test('every manager killed with -9 and started again keeps all committed state and elects a leader', async () => {
    createSleepService(m0, 'before-crash');
    for (const m of managers) c.kill9(m);
    await Promise.all(managers.map((m) => c.restart(m)));
    const s = await waitStatus(m2, { [m0.hostname]: (v) => v !== 'Unreachable', [m1.hostname]: (v) => v !== 'Unreachable', [m2.hostname]: (v) => v !== 'Unreachable' }, 30_000);
    assert.equal(leaderOf(s).length, 1);
    for (const m of managers) assert.deepEqual(serviceNames(m), ['after-failover', 'before-crash', 'via-follower']);
    // As in Docker, the new leader marks every node Unknown until its session is back (each a new node
    // version): every node, the worker too, is Ready again, and the next test's read-modify-write of a node
    // (`node promote`) does not race those writes.
    await waitFor(() => {
      const r = m1.docker(['node', 'ls', '--format', '{{.Hostname}} {{.Status}}']);
      const lines = r.stdout.trim().split('\n');
      return r.status === 0 && lines.length === managers.length + 1 && lines.every((l) => l.endsWith(' Ready'));
    }, 30_000, 'every node Ready again after the restart');
  });

  test('promote a worker: it becomes a Reachable manager; demote it back', async () => {
    m1.dockerOk(['node', 'promote', w.hostname]);
    await waitStatus(m0, { [w.hostname]: 'Reachable' }, 30_000);
    let lastErr = '';
    await waitFor(() => {
      const r = w.docker(['node', 'ls']);
      lastErr = r.stderr.trim();
      return r.status === 0;
    }, 20_000, 'the promoted node answers node ls').catch((e: Error) => {
      throw new Error(`${e.message}; last error: ${lastErr}\n--- promoted node's log (tail) ---\n${w.daemon.log().split('\n').slice(-40).join('\n')}`);
    });
    assert.equal(JSON.parse(w.dockerOk(['info', '--format', '{{json .Swarm.ControlAvailable}}'])), true);
    m1.dockerOk(['node', 'demote', w.hostname]);
    await waitStatus(m0, { [w.hostname]: '' }, 30_000);
    await waitFor(() => w.docker(['node', 'ls']).stderr.includes('not a swarm manager'), 30_000, 'the demoted node refuses node ls');
    const role = m0.dockerOk(['node', 'inspect', '--format', '{{.Spec.Role}}', w.hostname]).trim();
    assert.equal(role, 'worker');
  });

  test('a manager leaves with swarm leave --force: as in Docker it stays an Unreachable manager until demoted; the two others keep a quorum', async () => {
    m2.dockerOk(['swarm', 'leave', '--force']);
    const rest = [m0, m1];
    const s = await waitStatus(m0, { [m2.hostname]: 'Unreachable' }, 30_000);
    assert.equal(leaderOf(s).length, 1);
    assert.equal([...s.values()].filter((v) => v === 'Reachable').length, 1);
    createSleepService(m0, 'after-leave');
    for (const n of rest) assert.ok(serviceNames(n).includes('after-leave'));
    assert.equal(m0.dockerOk(['node', 'inspect', '--format', '{{.Spec.Role}}', m2.hostname]).trim(), 'manager');
    // The full leave / demote / rm flow is test/integration/managers-leave.test.ts.
  });

  test('swarm init --force-new-cluster recovers a lone survivor with its state; demoting the last manager is refused', async () => {
    // Of two managers one stops: no quorum. The survivor forces a new cluster of one.
    c.kill9(m1);
    await waitFor(() => m0.docker(['node', 'ls']).stderr.includes('does not have a leader'), 30_000, 'quorum lost');
    m0.dockerOk(['swarm', 'init', '--force-new-cluster', '--advertise-addr', m0.ip, '--listen-addr', `${m0.ip}:${c.port}`]);
    const s = await waitStatus(m0, { [m0.hostname]: 'Leader' }, 20_000);
    assert.deepEqual(leaderOf(s), [m0.hostname]);
    assert.deepEqual(serviceNames(m0), ['after-failover', 'after-leave', 'before-crash', 'via-follower']);
    createSleepService(m0, 'after-force');
    await waitFor(async () => (await runningTasks(m0, 'after-force')) === 1, 30_000, 'after-force running');
    const r = m0.docker(['node', 'demote', m0.hostname]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /attempting to demote the last manager of the swarm/);
  });
});
