// One manager + workers, each a real Shoal daemon on its own loopback address, driven through the
// real docker CLI (process runtime). Heartbeats are 1s so Down detection stays fast.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { TestDaemon, pidAlive, waitFor } from '../harness/daemon';
import { createRpcClient, DispatcherService, HealthService, RpcError } from '../../src/rpc';
import { caDigest, createRootCA, issueNodeKeyAndCertificate } from '../../src/manager/ca/pki';
import { generateJoinToken } from '../../src/manager/ca/core/token';

const WORKER_TEXT = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state.";

function certsOf(n: ClusterNode) {
  const dir = path.join(n.daemon.dataDir, 'certificates');
  return {
    certPem: fs.readFileSync(path.join(dir, 'swarm-node.crt'), 'utf8'),
    keyPem: fs.readFileSync(path.join(dir, 'swarm-node.key'), 'utf8'),
    caPem: fs.readFileSync(path.join(dir, 'swarm-root-ca.crt'), 'utf8'),
  };
}

async function rpcFails(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RpcError, `expected an RpcError, got ${String(e)}`);
    return e;
  }
  assert.fail('the call was expected to fail');
}

describe('multi-node swarm through the docker CLI', { concurrency: false, timeout: 300_000 }, () => {
  let c: TestCluster;
  let w1: ClusterNode, w2: ClusterNode;
  const create = (args: string[]) => c.manager.dockerOk(['service', 'create', '--detach', '--stop-grace-period', '1s', ...args]).trim();
  const nodesOf = async (svc: string) => (await c.running(svc)).map((t) => t.NodeID);

  before(async () => {
    c = new TestCluster({ workers: 2, heartbeat: '1s' });
    await c.start();
    [w1, w2] = [c.workers[0]!, c.workers[1]!];
  });
  after(async () => {
    await c?.cleanup();
  });

  test('workers join; node ls shows distinct hostnames, Ready and Active', () => {
    const out = c.manager.dockerOk(['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}']);
    const rows = out.trim().split('\n').map((r) => r.trimEnd()).sort();
    assert.deepEqual(rows, ['node-0 Ready Active Leader', 'node-1 Ready Active', 'node-2 Ready Active']);
  });

  test('a worker answers swarm endpoints with Docker text; docker info shows it as a worker', () => {
    const r = w1.docker(['node', 'ls']);
    assert.notEqual(r.status, 0);
    assert.ok(r.stderr.includes(WORKER_TEXT), r.stderr);
    const s = JSON.parse(w1.dockerOk(['info', '--format', '{{json .Swarm}}']));
    assert.equal(s.LocalNodeState, 'active');
    assert.equal(s.ControlAvailable, false);
    assert.equal(s.NodeAddr, w1.ip);
    assert.deepEqual(
      s.RemoteManagers.map((m: { Addr: string }) => m.Addr),
      [c.managerAddr],
    );
    assert.equal(s.RemoteManagers[0].NodeID, c.manager.nodeId);
    const text = w1.dockerOk(['info']);
    assert.match(text, /Is Manager: false/);
    assert.ok(text.includes(c.managerAddr));
  });

  test('docker node inspect shows the TLS info; node certificates carry the node ID, role and cluster', async () => {
    const n = JSON.parse(c.manager.dockerOk(['node', 'inspect', w1.hostname]))[0];
    const ca = certsOf(w1).caPem;
    assert.equal(n.Description.TLSInfo.TrustRoot.trim(), ca.trim());
    assert.ok(n.Description.TLSInfo.CertIssuerSubject && n.Description.TLSInfo.CertIssuerPublicKey);
    const { certInfo } = await import('../../src/manager/ca/pki');
    const info = certInfo(certsOf(w1).certPem);
    const clusterId = JSON.parse(c.manager.dockerOk(['info', '--format', '{{json .Swarm.Cluster}}'])).ID;
    assert.equal(info.nodeId, w1.nodeId);
    assert.equal(info.role, 'worker');
    assert.equal(info.clusterId, clusterId);
  });

  test('a replicated service spreads across the nodes', async () => {
    create(['--name', 'web', '--replicas', '6', 'busybox', 'sleep', '1000']);
    const nodes = await waitFor(async () => ((await nodesOf('web')).length === 6 ? nodesOf('web') : null), 30_000, '6 running');
    for (const n of c.nodes) assert.equal(nodes.filter((x) => x === n.nodeId).length, 2, `2 tasks on ${n.hostname}`);
    const ps = c.manager.dockerOk(['node', 'ps', w1.hostname, '--format', '{{.Name}} {{.Node}} {{.CurrentState}}']);
    assert.equal(ps.trim().split('\n').filter((l) => l.includes('node-1') && /Running/.test(l)).length, 2, ps);
  });

  test('docker swarm update validates --cert-expiry and sets --dispatcher-heartbeat', () => {
    const r = c.manager.docker(['swarm', 'update', '--cert-expiry', '30m']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /minimum certificate expiry time is 1h0m0s/);
    c.manager.dockerOk(['swarm', 'update', '--cert-expiry', '48h']);
    const spec = JSON.parse(c.manager.dockerOk(['info', '--format', '{{json .Swarm.Cluster.Spec}}']));
    assert.equal(spec.CAConfig.NodeCertExpiry, 48 * 3600e9);
    assert.equal(spec.Dispatcher.HeartbeatPeriod, 1e9);
  });

  test('drain moves tasks to active nodes; active restores placement', async () => {
    c.manager.dockerOk(['node', 'update', '--availability', 'drain', w1.hostname]);
    await waitFor(async () => {
      const nodes = await nodesOf('web');
      return nodes.length === 6 && !nodes.includes(w1.nodeId);
    }, 30_000, 'web off node-1');
    assert.match(c.manager.dockerOk(['node', 'ls', '--filter', `name=${w1.hostname}`]), /Drain/);
    c.manager.dockerOk(['node', 'update', '--availability', 'active', w1.hostname]);
    c.manager.dockerOk(['service', 'scale', '--detach', 'web=9']);
    // The scheduler prefers the node with the fewest tasks of the service: the new ones go to node-1.
    await waitFor(async () => (await nodesOf('web')).filter((n) => n === w1.nodeId).length === 3, 30_000, '3 web tasks on node-1');
  });

  test('pause stops new placements but keeps running tasks', async () => {
    c.manager.dockerOk(['node', 'update', '--availability', 'pause', w2.hostname]);
    const before = (await nodesOf('web')).filter((n) => n === w2.nodeId).length;
    c.manager.dockerOk(['service', 'scale', '--detach', 'web=12']);
    await waitFor(async () => (await nodesOf('web')).length === 12, 30_000, '12 running');
    assert.equal((await nodesOf('web')).filter((n) => n === w2.nodeId).length, before);
    assert.match(c.manager.dockerOk(['node', 'ls', '--filter', `name=${w2.hostname}`]), /Pause/);
    c.manager.dockerOk(['node', 'update', '--availability', 'active', w2.hostname]);
    c.manager.dockerOk(['service', 'rm', 'web']);
    await waitFor(async () => (await c.tasks()).length === 0, 30_000, 'web gone');
  });

  test('--label-add with a node.labels constraint places tasks only there', async () => {
    c.manager.dockerOk(['node', 'update', '--label-add', 'zone=blue', w2.hostname]);
    create(['--name', 'blue', '--replicas', '3', '--constraint', 'node.labels.zone==blue', 'busybox', 'sleep', '1000']);
    const nodes = await waitFor(async () => ((await nodesOf('blue')).length === 3 ? nodesOf('blue') : null), 30_000, '3 blue');
    assert.deepEqual([...new Set(nodes)], [w2.nodeId]);
    c.manager.dockerOk(['service', 'rm', 'blue']);
  });

  test('a global service runs on every node, including one that joins later', async () => {
    create(['--name', 'agent', '--mode', 'global', 'busybox', 'sleep', '1000']);
    await waitFor(async () => (await nodesOf('agent')).length === 3, 30_000, 'global on 3 nodes');
    const w3 = await c.addWorker();
    await waitFor(async () => (await nodesOf('agent')).includes(w3.nodeId), 30_000, 'global task on the new node');
    assert.equal((await nodesOf('agent')).length, 4);
  });

  // Joining with the manager token makes a manager: test/integration/managers.test.ts.
  test('a rotated worker token and a foreign CA are refused', async () => {
    const old = c.token('worker');
    c.manager.dockerOk(['swarm', 'join-token', '--rotate', 'worker']);
    const fresh = new TestDaemon({ hostname: 'stranger', extraArgs: ['--swarm-default-advertise-addr', '127.0.0.60'] });
    await fresh.start();
    try {
      const r1 = fresh.docker(['swarm', 'join', '--token', old, c.managerAddr]);
      assert.notEqual(r1.status, 0);
      assert.match(r1.stderr, /A valid join token is necessary to join this cluster/);
      const otherCA = generateJoinToken(caDigest((await createRootCA()).certPem), new Uint8Array(16).fill(7));
      const r2 = fresh.docker(['swarm', 'join', '--token', otherCA, c.managerAddr]);
      assert.notEqual(r2.status, 0);
      assert.match(r2.stderr, /remote CA does not match fingerprint/);
      assert.equal(fresh.dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'inactive');
      assert.equal((await c.nodeList()).length, 4, 'no node object was created for refused joins');
    } finally {
      await fresh.cleanup();
    }
  });

  test('RPC: a forged certificate is refused; a worker certificate cannot call manager RPCs', async () => {
    const real = certsOf(w1);
    const clusterId = JSON.parse(c.manager.dockerOk(['info', '--format', '{{json .Swarm.Cluster}}'])).ID;
    // Same node ID, role and cluster, signed by another CA.
    const forgedCA = await createRootCA();
    const forged = await issueNodeKeyAndCertificate(forgedCA, w1.nodeId, 'manager', clusterId);
    const fc = createRpcClient(c.managerAddr, { certPem: forged.certPem, keyPem: forged.keyPem, caPem: real.caPem });
    try {
      const e1 = await rpcFails(fc.unary(HealthService, 'Check', {}, { timeoutMs: 5000 }));
      assert.ok(e1.kind === 'PermissionDenied' || e1.kind === 'Unavailable', e1.rpcText);
      const e2 = await rpcFails(fc.unary(DispatcherService, 'Heartbeat', { sessionId: 'x' }, { timeoutMs: 5000 }));
      assert.ok(e2.kind === 'PermissionDenied' || e2.kind === 'Unavailable', e2.rpcText);
    } finally {
      fc.close();
    }
    const wc = createRpcClient(c.managerAddr, { ...real });
    try {
      const e = await rpcFails(wc.unary(HealthService, 'Check', {}, { timeoutMs: 5000 }));
      assert.equal(e.kind, 'PermissionDenied');
      assert.match(e.details, /remote certificate not part of roles: \[swarm-manager\]/);
      // The worker may hold a session, but not use another node's.
      const e3 = await rpcFails(wc.unary(DispatcherService, 'Heartbeat', { sessionId: 'not-mine' }, { timeoutMs: 5000 }));
      assert.equal(e3.kind, 'NotFound');
    } finally {
      wc.close();
    }
  });

  test('worker leave: Down at once, then node rm; rm --force removes a Ready node and its certificate is refused', async () => {
    const t0 = Date.now();
    assert.match(w1.dockerOk(['swarm', 'leave']), /Node left the swarm\./);
    await c.waitNodeState(w1, 'down', 3000);
    assert.ok(Date.now() - t0 < 5000, 'down promptly after leave');
    assert.equal(w1.dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim(), 'inactive');
    const rmReady = c.manager.docker(['node', 'rm', w2.hostname]);
    assert.notEqual(rmReady.status, 0);
    assert.match(rmReady.stderr, /is not down and can't be removed/);
    c.manager.dockerOk(['node', 'rm', w1.nodeId]);
    // w2 is Ready: --force removes it, and its certificate stops working.
    const creds = certsOf(w2);
    c.manager.dockerOk(['node', 'rm', '--force', w2.hostname]);
    assert.equal((await c.nodeList()).some((n) => n.ID === w1.nodeId || n.ID === w2.nodeId), false);
    const rc = createRpcClient(c.managerAddr, creds);
    try {
      const e = await rpcFails(rc.unary(DispatcherService, 'Session', { description: { Hostname: 'x' } as never, addr: w2.ip }, { timeoutMs: 5000 }));
      assert.equal(e.kind, 'PermissionDenied');
      assert.match(e.details, /removed from swarm/);
    } finally {
      rc.close();
    }
    // The removed node notices nothing on its own; take it out cleanly for the next test.
    w2.dockerOk(['swarm', 'leave', '--force']);
  });

  test('kill -9 of a worker: Down, its tasks rescheduled; on return its stale tasks are shut down', async () => {
    // Fresh workers for this test (the others left).
    const a = await c.addWorker();
    const b = await c.addWorker();
    create(['--name', 'api', '--replicas', '4', 'busybox', 'sleep', '1000']);
    await waitFor(async () => (await nodesOf('api')).length === 4, 30_000, '4 api running');
    const victim = (await nodesOf('api')).includes(a.nodeId) ? a : b;
    const victimTasks = (await c.running('api')).filter((t) => t.NodeID === victim.nodeId);
    assert.ok(victimTasks.length > 0);
    const pids = victimTasks.map((t) => t.Status.ContainerStatus?.PID).filter((p): p is number => !!p);
    const t0 = Date.now();
    c.kill9(victim);
    await c.waitNodeState(victim, 'down', 10_000);
    const downMs = Date.now() - t0;
    await waitFor(async () => {
      const nodes = await nodesOf('api');
      return nodes.length === 4 && !nodes.includes(victim.nodeId);
    }, 30_000, 'api rescheduled');
    assert.ok(downMs < 5000, `down after ${downMs} ms`);
    // The killed daemon's tasks kept running meanwhile (no manager could stop them).
    for (const pid of pids) assert.ok(pidAlive(pid), `task process ${pid} alive`);
    await c.restart(victim);
    await c.waitNodeState(victim, 'ready', 15_000).catch((e) => assert.fail(`${String(e)}\n${victim.daemon.log()}`));
    await waitFor(() => pids.every((p) => !pidAlive(p)), 20_000, 'stale tasks shut down');
    assert.equal((await nodesOf('api')).length, 4);
  });
});
