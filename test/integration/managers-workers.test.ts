// Issue 4 with several managers: 3 managers + 2 workers, each a real Shoal daemon on its own loopback
// address, driven through the real docker CLI (process runtime, 50 ms Raft ticks, 1 s heartbeats).
// The workers joined before the other managers did: they learn the manager list from their
// sessions' heartbeats. Kill -9 of the leader moves their sessions to the new leader; with every
// manager down their tasks keep running, and once the managers are back the workers reconnect by
// themselves and the services are converged with the same tasks. Every wait is bounded.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { pidAlive, waitFor, type TaskJson } from '../harness/daemon';


describe('3 managers + 2 workers through the docker CLI', { concurrency: false, timeout: 180_000 }, () => {
  let c: TestCluster;
  let m0: ClusterNode, m1: ClusterNode, m2: ClusterNode, w1: ClusterNode, w2: ClusterNode;
  let managers: ClusterNode[];
  let workers: ClusterNode[];
  /** The running tasks of each service as last seen before the managers went away. */
  const last = new Map<string, TaskJson[]>();
  /** Every task PID seen on the workers (killed after the test if anything outlived it). */
  const pids = new Set<number>();

  const create = (n: ClusterNode, name: string, replicas: number) =>
    n.dockerOk(['service', 'create', '--detach', '--stop-grace-period', '1s', '--name', name, '--replicas', String(replicas), '--constraint', 'node.role==worker', 'busybox', 'sleep', '1000']).trim();

  /** All tasks of a service as manager `n` reports them (undefined while it cannot answer). */
  const tasksVia = async (n: ClusterNode, svc: string): Promise<TaskJson[] | undefined> => {
    const r = await n.daemon.api<TaskJson[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [svc] }))}`).catch(() => undefined);
    return r?.status === 200 ? r.body : undefined;
  };
  const runningVia = async (n: ClusterNode, svc: string) => (await tasksVia(n, svc))?.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');

  /** hostname → "STATUS|MANAGER STATUS" as `docker node ls` on `n` prints it; undefined on an error. */
  const nodeLs = (n: ClusterNode): Map<string, string> | undefined => {
    const r = n.docker(['node', 'ls', '--format', '{{.Hostname}}|{{.Status}}|{{.ManagerStatus}}']);
    if (r.status !== 0) return undefined;
    return new Map(r.stdout.trim().split('\n').map((l) => { const [h, ...rest] = l.split('|'); return [h!, rest.join('|')]; }));
  };
  const leaderIn = (ls: Map<string, string>) => [...ls].filter(([, v]) => v.endsWith('|Leader')).map(([h]) => h);
  /** A node's UpdatedAt and state, through manager `n` (a new dispatcher session rewrites both). */
  const nodeStatus = (n: ClusterNode, w: ClusterNode) => {
    const r = n.docker(['node', 'inspect', '--format', '{{.UpdatedAt.UnixNano}}|{{.Status.State}}', w.hostname]);
    if (r.status !== 0) return undefined;
    const [ns, state] = r.stdout.trim().split('|');
    return { updatedMs: Number(BigInt(ns!) / 1_000_000n), state: state! };
  };

  /**
   * Waits until some live manager sees a leader, both workers Ready with a session opened after
   * `sinceMs`, and `svc` running `n` tasks; returns that manager.
   */
  const waitWorkersBack = async (sinceMs: number, what: string): Promise<ClusterNode> => {
    let seen = '';
    return waitFor(
      () => {
        for (const m of managers) {
          if (m.killed) continue;
          const ls = nodeLs(m);
          if (!ls) continue;
          seen = `${m.hostname}: ${JSON.stringify([...ls])}`;
          if (leaderIn(ls).length !== 1) continue;
          if (!workers.every((w) => ls.get(w.hostname) === 'Ready|')) continue;
          const st = workers.map((w) => nodeStatus(m, w));
          seen += ` ${JSON.stringify(st)}`;
          if (st.every((s) => s && s.state === 'ready' && s.updatedMs > sinceMs)) return m;
        }
        return undefined;
      },
      40_000,
      what,
      200,
    ).catch((e: Error) => {
      const logs = process.env.SHOAL_TEST_LOGS ? c.nodes.map((x) => `--- ${x.hostname} ---\n${x.daemon.log()}`).join('\n') : '';
      throw new Error(`${e.message}\nlast seen: ${seen}\n${logs}`);
    });
  };

  /** `svc` has exactly one desired-running task per slot, all running on the workers; returns them. */
  const converged = async (n: ClusterNode, svc: string, replicas: number): Promise<TaskJson[] | undefined> => {
    const all = await tasksVia(n, svc);
    if (!all) return undefined;
    const live = all.filter((t) => t.DesiredState === 'running');
    if (live.length !== replicas || new Set(live.map((t) => t.Slot)).size !== replicas) return undefined;
    if (!live.every((t) => t.Status.State === 'running' && workers.some((w) => w.nodeId === t.NodeID))) return undefined;
    return live;
  };
  const ids = (ts: TaskJson[]) => ts.map((t) => t.ID).sort();
  const remember = (svc: string, ts: TaskJson[]) => {
    last.set(svc, ts);
    for (const t of ts) if (t.Status.ContainerStatus?.PID) pids.add(t.Status.ContainerStatus.PID);
  };

  before(async () => {
    // Workers first (they join through m0 and know only it), then the two other managers.
    c = new TestCluster({ workers: 2, heartbeat: '1s', daemonArgs: ['--raft-tick-ms', '50'], hostPrefix: 'mw' });
    await c.start();
    m0 = c.manager;
    [w1, w2] = [c.nodes[1]!, c.nodes[2]!];
    m1 = await c.addManager(m0);
    m2 = await c.addManager(m1);
    managers = [m0, m1, m2];
    workers = [w1, w2];
  });
  after(async () => {
    if (!c) return;
    for (const n of c.nodes) if (n.killed) await c.restart(n).catch(() => undefined);
    // Remove the services through whichever manager answers, so no task process outlives the test.
    await waitFor(
      async () => {
        for (const m of managers ?? []) {
          const r = m.docker(['service', 'ls', '-q']);
          if (r.status !== 0) continue;
          const svcs = r.stdout.trim();
          if (svcs) m.docker(['service', 'rm', ...svcs.split('\n')]);
          const t = await m.daemon.api<unknown[]>('GET', '/v1.47/tasks').catch(() => undefined);
          return t?.status === 200 && t.body.length === 0;
        }
        return false;
      },
      30_000,
      'every task removed',
      250,
    ).catch(() => undefined);
    await Promise.all(c.nodes.map((n) => n.daemon.cleanup().catch(() => undefined)));
    for (const pid of pids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  test('workers learn every manager from their sessions; a worker-only service spreads over them', async () => {
    const ls = nodeLs(m0)!;
    assert.deepEqual(
      [...ls].sort(),
      [
        [m0.hostname, 'Ready|Leader'],
        [w1.hostname, 'Ready|'],
        [w2.hostname, 'Ready|'],
        [m1.hostname, 'Ready|Reachable'],
        [m2.hostname, 'Ready|Reachable'],
      ].sort(),
    );
    const want = managers.map((m) => `${m.ip}:${c.port}`).sort();
    for (const w of workers) {
      await waitFor(
        () => {
          const rm = JSON.parse(w.dockerOk(['info', '--format', '{{json .Swarm.RemoteManagers}}'])) as { Addr: string }[] | null;
          return JSON.stringify((rm ?? []).map((x) => x.Addr).sort()) === JSON.stringify(want);
        },
        15_000,
        `${w.hostname} to know the three managers`,
      );
    }
    create(m0, 'web', 4);
    const web = await waitFor(() => converged(m0, 'web', 4), 30_000, 'web converged');
    for (const w of workers) assert.equal(web.filter((t) => t.NodeID === w.nodeId).length, 2, `2 web tasks on ${w.hostname}`);
    remember('web', web);
  });

  test('kill -9 of the leader: the workers\' sessions move to the new leader; tasks keep running and new ones land on them', async () => {
    assert.deepEqual(leaderIn(nodeLs(m1)!), [m0.hostname]);
    const t0 = Date.now();
    c.kill9(m0);
    const m = await waitWorkersBack(t0, 'workers in session with the new leader');
    assert.notEqual(leaderIn(nodeLs(m)!)[0], m0.hostname);
    // The new leader kept the tasks as they were: same IDs, same processes.
    const web = await waitFor(() => converged(m, 'web', 4), 20_000, 'web converged after failover');
    assert.deepEqual(ids(web), ids(last.get('web')!));
    for (const t of web) assert.ok(pidAlive(t.Status.ContainerStatus!.PID!), `task ${t.ID} process alive`);
    // The new leader's scheduler places a new service on both workers, and their agents run it.
    create(m, 'after', 2);
    const after = await waitFor(() => converged(m, 'after', 2), 30_000, 'after converged');
    assert.deepEqual(after.map((t) => t.NodeID).sort(), workers.map((w) => w.nodeId).sort());
    remember('web', web);
    remember('after', after);
  });

  test('every manager killed: the workers\' tasks keep running; the managers come back and the workers reconnect by themselves', async () => {
    // The last task list before the outage (m0 is already down).
    const via = managers.find((x) => !x.killed)!;
    for (const svc of ['web', 'after']) remember(svc, await waitFor(() => runningVia(via, svc), 10_000, `${svc} tasks through ${via.hostname}`));
    const taskPids = [...last.values()].flat().map((t) => t.Status.ContainerStatus?.PID);
    assert.equal(taskPids.length, 6);
    assert.ok(taskPids.every((p) => typeof p === 'number' && p > 0), JSON.stringify(taskPids));
    for (const m of managers) if (!m.killed) c.kill9(m);
    // While no manager is reachable (the agents retry with backoff), every task process stays up.
    const quietUntil = Date.now() + 3000;
    while (Date.now() < quietUntil) {
      for (const p of taskPids) assert.ok(pidAlive(p!), `task process ${p} alive while every manager is down`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const w of workers) assert.equal(w.dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'active');
    const t0 = Date.now();
    await Promise.all(managers.map((m) => c.restart(m)));
    const m = await waitWorkersBack(t0, 'workers back in session after every manager restarted');
    // Converged with the same tasks and the same processes, one task per slot.
    for (const [svc, replicas] of [['web', 4], ['after', 2]] as const) {
      const now = await waitFor(() => converged(m, svc, replicas), 20_000, `${svc} converged after the restart`);
      assert.deepEqual(ids(now), ids(last.get(svc)!), `${svc}: same tasks`);
      const pidOf = new Map(last.get(svc)!.map((t) => [t.ID, t.Status.ContainerStatus?.PID]));
      for (const t of now) assert.equal(t.Status.ContainerStatus?.PID, pidOf.get(t.ID), `task ${t.ID}: same process`);
    }
    for (const p of taskPids) assert.ok(pidAlive(p!), `task process ${p} alive`);
    // Assignments flow again: a scale-up lands on the reconnected workers.
    m.dockerOk(['service', 'scale', '--detach', 'web=6']);
    const web = await waitFor(() => converged(m, 'web', 6), 30_000, 'web scaled to 6');
    for (const id of ids(last.get('web')!)) assert.ok(web.some((t) => t.ID === id), `task ${id} kept`);
    for (const w of workers) assert.equal(web.filter((t) => t.NodeID === w.nodeId).length, 3, `3 web tasks on ${w.hostname}`);
    remember('web', web);
  });
});
