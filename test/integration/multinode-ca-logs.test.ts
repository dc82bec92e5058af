// One manager + 2 workers (real Shoal daemons on loopback, process runtime, real docker CLI):
// `docker service logs` across nodes (log subscriptions over the dispatcher session), root CA
// rotation with `docker swarm ca --rotate`, and a silently partitioned worker.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { waitFor } from '../harness/daemon';
import { certInfo, nodeTLSInfo } from '../../src/manager/ca/pki';

function certsOf(n: ClusterNode) {
  const dir = path.join(n.daemon.dataDir, 'certificates');
  return {
    certPem: fs.readFileSync(path.join(dir, 'swarm-node.crt'), 'utf8'),
    caPem: fs.readFileSync(path.join(dir, 'swarm-root-ca.crt'), 'utf8'),
  };
}

describe('multi-node: remote logs, root CA rotation, partition', { concurrency: false, timeout: 300_000 }, () => {
  let c: TestCluster;
  let w1: ClusterNode, w2: ClusterNode;
  const create = (args: string[]) => c.manager.dockerOk(['service', 'create', '--detach', '--stop-grace-period', '1s', ...args]).trim();
  const nodesOf = async (svc: string) => (await c.running(svc)).map((t) => t.NodeID);

  before(async () => {
    c = new TestCluster({ workers: 2, heartbeat: '1s', hostPrefix: 'cl' });
    await c.start();
    [w1, w2] = [c.workers[0]!, c.workers[1]!];
  });
  after(async () => {
    await c?.cleanup();
  });

  test('docker service logs shows lines from tasks on all 3 nodes; --follow streams a worker task', async () => {
    create(['--name', 'chatty', '--replicas', '3', 'busybox', 'sh', '-c', 'echo hello-chatty; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done']);
    const running = await waitFor(async () => {
      const r = await c.running('chatty');
      return r.length === 3 ? r : null;
    }, 30_000, '3 chatty running');
    assert.deepEqual(new Set(running.map((t) => t.NodeID)).size, 3, 'one task per node');
    const ids = (await c.tasks({ service: ['chatty'] })).filter((t) => t.DesiredState === 'running');
    const host = (nodeId: string | undefined) => c.nodes.find((n) => n.nodeId === nodeId)!.hostname;
    const logs = await waitFor(() => {
      const out = c.manager.dockerOk(['service', 'logs', '--no-trunc', 'chatty']);
      return ids.every((t) => out.includes(`chatty.${t.Slot}.${t.ID}@${host(t.NodeID)}`) && out.includes('hello-chatty')) ? out : null;
    }, 20_000, 'hello lines from every node');
    for (const t of ids) {
      const re = new RegExp(`^chatty\\.${t.Slot}\\.${t.ID}@${host(t.NodeID)}\\s+\\| hello-chatty$`, 'm');
      assert.match(logs, re, `line from ${host(t.NodeID)}`);
    }
    // --tail and --timestamps across nodes: one line per task, each with an RFC 3339 time.
    const tail = c.manager.dockerOk(['service', 'logs', '--raw', '--timestamps', '--tail', '1', 'chatty']).trim().split('\n');
    assert.equal(tail.length, 3, tail.join('|'));
    for (const l of tail) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z tick-\d+$/);
    // /tasks/{id}/logs for a task on a worker
    const remote = ids.find((t) => t.NodeID === w1.nodeId)!;
    const tl = c.manager.dockerOk(['service', 'logs', '--raw', remote.ID]);
    assert.match(tl, /^hello-chatty$/m);

    // --follow: new ticks of the task on w2 arrive after the command started.
    const w2Task = ids.find((t) => t.NodeID === w2.nodeId)!;
    const prefix = `chatty.${w2Task.Slot}.${w2Task.ID}@${w2.hostname}`;
    const before = c.manager.dockerOk(['service', 'logs', '--no-trunc', 'chatty']);
    const maxBefore = Math.max(...[...before.matchAll(new RegExp(`^${prefix.replace(/\./g, '\\.')}\\s+\\| tick-(\\d+)$`, 'gm'))].map((m) => Number(m[1])));
    const f = c.manager.daemon.dockerBackground(['service', 'logs', '--follow', '--no-trunc', '--tail', '0', 'chatty']);
    try {
      await waitFor(() => {
        const seen = [...f.out().matchAll(new RegExp(`^${prefix.replace(/\./g, '\\.')}\\s+\\| tick-(\\d+)$`, 'gm'))].map((m) => Number(m[1]));
        return seen.some((n) => n > maxBefore + 2);
      }, 20_000, `followed new lines from ${w2.hostname}`).catch((e) => assert.fail(`${String(e)}\n${f.out()}\n${f.err()}`));
    } finally {
      f.stop();
    }
    c.manager.dockerOk(['service', 'rm', 'chatty']);
    await waitFor(async () => (await c.tasks()).length === 0, 30_000, 'chatty gone');
  });

  test('docker swarm ca --rotate: new root, every node re-certified, new tokens; old token refused', async () => {
    const oldRoot = c.manager.dockerOk(['swarm', 'ca']).trim();
    assert.match(oldRoot, /^-----BEGIN CERTIFICATE-----/);
    const oldWorkerToken = c.token('worker');
    const out = c.manager.dockerOk(['swarm', 'ca', '--rotate'], { timeoutMs: 90_000 });
    assert.ok(out.includes('-----BEGIN CERTIFICATE-----'), out);
    const printed = out.slice(out.indexOf('-----BEGIN CERTIFICATE-----')).trim();
    assert.notEqual(printed, oldRoot, 'a new root was printed');
    assert.equal(c.manager.dockerOk(['swarm', 'ca']).trim(), printed, '`docker swarm ca` prints the current root');
    const cluster = (await c.manager.daemon.api<{ TLSInfo: { TrustRoot: string; CertIssuerPublicKey: string }; RootRotationInProgress: boolean; JoinTokens: { Worker: string } }>('GET', '/v1.47/swarm')).body;
    assert.equal(cluster.RootRotationInProgress, false);
    assert.equal(cluster.TLSInfo.TrustRoot.trim(), printed);
    for (const n of await c.nodeList()) {
      assert.equal(n.Description.TLSInfo?.CertIssuerPublicKey, cluster.TLSInfo.CertIssuerPublicKey, `${n.Description.Hostname} has a certificate from the new root`);
      assert.equal(n.Description.TLSInfo?.TrustRoot, cluster.TLSInfo.TrustRoot, `${n.Description.Hostname} trusts the new root`);
    }
    for (const n of c.nodes) {
      const files = certsOf(n);
      assert.equal(files.caPem.trim(), printed, `${n.hostname} root file`);
      assert.equal((await nodeTLSInfo(files.certPem, files.caPem)).CertIssuerPublicKey, cluster.TLSInfo.CertIssuerPublicKey);
      assert.equal(certInfo(files.certPem).nodeId, n.nodeId);
    }
    // Workers still get work.
    create(['--name', 'after-rotate', '--mode', 'global', 'busybox', 'sleep', '1000']);
    await waitFor(async () => new Set(await nodesOf('after-rotate')).size === 3, 30_000, 'global service on all 3 nodes after rotation');
    c.manager.dockerOk(['service', 'rm', 'after-rotate']);
    // Join tokens carry the new digest: the old one is refused before anything is sent, a new one works.
    const newWorkerToken = c.token('worker');
    assert.notEqual(newWorkerToken, oldWorkerToken);
    const fresh = await c.addDaemon();
    const r = fresh.docker(['swarm', 'join', '--token', oldWorkerToken, c.managerAddr]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /remote CA does not match fingerprint/);
    assert.match(fresh.dockerOk(['swarm', 'join', '--token', newWorkerToken, c.managerAddr]), /This node joined a swarm as a worker\./);
    fresh.nodeId = fresh.dockerOk(['info', '--format', '{{.Swarm.NodeID}}']).trim();
    await c.waitNodeState(fresh, 'ready', 15_000);
    fresh.dockerOk(['swarm', 'leave']);
    await c.waitNodeState(fresh, 'down', 10_000);
    c.manager.dockerOk(['node', 'rm', fresh.nodeId]);
    await waitFor(async () => (await c.tasks()).length === 0, 30_000, 'after-rotate gone');
  });

  test('a partitioned worker goes Down, its tasks move; healed, it is Ready and its stale tasks stop', async () => {
    create(['--name', 'slots', '--replicas', '3', '--restart-delay', '0s', 'busybox', 'sleep', '1000']);
    await waitFor(async () => (await nodesOf('slots')).length === 3, 30_000, '3 slots running');
    const victimTasks = (await c.running('slots')).filter((t) => t.NodeID === w1.nodeId);
    assert.ok(victimTasks.length > 0, 'a task on the worker');
    c.partition(w1);
    try {
      await c.waitNodeState(w1, 'down', 20_000);
      await waitFor(async () => {
        const nodes = await nodesOf('slots');
        return nodes.length === 3 && !nodes.includes(w1.nodeId);
      }, 30_000, 'slots rescheduled away from the partitioned worker');
    } finally {
      c.heal(w1);
    }
    await c.waitNodeState(w1, 'ready', 20_000);
    // Its old tasks are shut down: every slot ends with exactly one running task.
    await waitFor(async () => {
      const all = await c.tasks({ service: ['slots'] });
      const stale = all.filter((t) => victimTasks.some((v) => v.ID === t.ID));
      return stale.every((t) => t.Status.State !== 'running' && t.Status.State !== 'starting');
    }, 30_000, 'stale tasks shut down');
    const all = await c.tasks({ service: ['slots'] });
    for (const slot of [1, 2, 3]) {
      const live = all.filter((t) => t.Slot === slot && t.Status.State === 'running');
      assert.equal(live.length, 1, `slot ${slot}: ${JSON.stringify(live.map((t) => [t.ID, t.NodeID]))}`);
    }
    c.manager.dockerOk(['service', 'rm', 'slots']);
  });
});
