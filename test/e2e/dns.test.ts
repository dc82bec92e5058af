// Service discovery end to end through the real docker CLI, on two process-runtime daemons on
// loopback (127.0.0.10–11), each with its embedded DNS server on its own address
// (`--dns-listen-addr`): a process task resolves another service's task addresses through the DNS
// server it is given as SHOAL_DNS, and the test asks each node's server itself for VIPs, dnsrr
// answers, task names and `<name>.<network>`, and sees answers follow scaling.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dns from 'node:dns';
import * as dnsPacket from 'dns-packet';
import { after, before, describe, test } from 'node:test';
import { TestCluster } from '../harness/cluster';
import { freePort, waitFor } from '../harness/daemon';

const NODE = process.execPath;
const IDLE = 'setInterval(() => {}, 1000)';
// A process task that asks its node's DNS (SHOAL_DNS) for tasks.backend every 300 ms and prints the sorted answer.
const CLIENT = `const r = new (require('dns').Resolver)(); r.setServers([process.env.SHOAL_DNS]);
setInterval(() => r.resolve4('tasks.backend', (e, a) => console.log('tasks.backend=' + (e ? e.code : a.sort().join(',')))), 300);`;

interface TaskAttach {
  ID: string;
  Status: { State: string };
  DesiredState: string;
  NetworksAttachments?: { Network: { Spec: { Name: string } }; Addresses: string[] }[];
}

/** The nodes' upstream resolver, on loopback: outside.example → 192.0.2.44, every other name NXDOMAIN. */
function startUpstream(seen: string[]): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => {
    const q = dnsPacket.decode(m);
    const name = q.questions?.[0]?.name ?? '';
    seen.push(name);
    const known = name === 'outside.example';
    const answers = known ? [{ name, type: 'A', ttl: 60, data: '192.0.2.44' }] : [];
    s.send(dnsPacket.encode({ id: q.id, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3), questions: q.questions ?? [], answers }), r.port, r.address);
  });
  return new Promise((resolve) => s.bind(0, '127.0.0.1', () => resolve(s)));
}

describe('service discovery: the embedded DNS server (process runtime, 2 nodes)', { concurrency: false, timeout: 240_000 }, () => {
  let dnsPort = 0;
  let upstream: dgram.Socket | undefined;
  const upstreamSeen: string[] = [];
  const c = new TestCluster({ workers: 1, nodeArgs: (ip) => ['--dns-listen-addr', `${ip}:${dnsPort}`, '--dns-upstream', `127.0.0.1:${upstream!.address().port}`] });
  const resolverOf = (ip: string) => {
    const r = new dns.promises.Resolver({ timeout: 3000, tries: 1 });
    r.setServers([`${ip}:${dnsPort}`]);
    return r;
  };
  const resolve4 = (ip: string, name: string) =>
    resolverOf(ip)
      .resolve4(name)
      .then((a) => a.sort())
      .catch((e: NodeJS.ErrnoException) => e.code ?? 'error');

  /** Running tasks' addresses on appnet, sorted. */
  async function taskAddrs(service: string): Promise<string[]> {
    const r = await c.manager.daemon.api<TaskAttach[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service], 'desired-state': ['running'] }))}`);
    return r.body
      .filter((t) => t.Status.State === 'running')
      .flatMap((t) => (t.NetworksAttachments ?? []).filter((a) => a.Network.Spec.Name === 'appnet').map((a) => a.Addresses[0]!.split('/')[0]!))
      .sort();
  }

  before(async () => {
    dnsPort = await freePort();
    upstream = await startUpstream(upstreamSeen);
    await c.start();
    c.manager.dockerOk(['network', 'create', '-d', 'overlay', 'appnet']);
  });
  after(async () => {
    await c.cleanup();
    upstream?.close();
  });

  test('a process task resolves tasks.<service> through SHOAL_DNS to the other service’s task addresses', async () => {
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'backend', '--network', 'appnet', '--replicas', '2', '--endpoint-mode', 'dnsrr', 'busybox', NODE, '-e', IDLE]);
    const want = await waitFor(async () => {
      const a = await taskAddrs('backend');
      return a.length === 2 ? a : undefined;
    }, 60_000, 'two backend tasks running');
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'client', '--network', 'appnet', 'busybox', NODE, '-e', CLIENT]);
    const line = `tasks.backend=${want.join(',')}`;
    await waitFor(() => c.manager.dockerOk(['service', 'logs', 'client']).includes(line) || undefined, 60_000, `client logs ${line}`, 500);
  });

  test('each node answers <service> (vip → VIP, dnsrr → tasks), tasks.<service>, task names and <name>.<network>', async () => {
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'front', '--network', 'name=appnet,alias=www', 'busybox', NODE, '-e', IDLE]);
    const fronts = await waitFor(async () => {
      const a = await taskAddrs('front');
      return a.length === 1 ? a : undefined;
    }, 60_000, 'front task running');
    const svc = JSON.parse(c.manager.dockerOk(['service', 'inspect', 'front']))[0] as { Endpoint: { VirtualIPs: { NetworkID: string; Addr: string }[] } };
    const netId = c.manager.dockerOk(['network', 'inspect', '-f', '{{.Id}}', 'appnet']).trim();
    const vip = svc.Endpoint.VirtualIPs.find((v) => v.NetworkID === netId)!.Addr.split('/')[0]!;
    const backends = await taskAddrs('backend');
    for (const n of c.nodes) {
      assert.deepEqual(await waitFor(async () => {
        const a = await resolve4(n.ip, 'front');
        return Array.isArray(a) ? a : undefined;
      }, 20_000, `front on ${n.ip}`), [vip], `vip mode answers the VIP on ${n.ip}`);
      assert.deepEqual(await resolve4(n.ip, 'WWW'), [vip], 'a network alias, any case');
      assert.deepEqual(await resolve4(n.ip, 'tasks.front'), fronts);
      assert.deepEqual(await resolve4(n.ip, 'tasks.www'), fronts);
      assert.deepEqual(await resolve4(n.ip, 'backend'), backends, 'dnsrr answers the task addresses');
      assert.deepEqual(await resolve4(n.ip, 'tasks.backend.appnet'), backends, '<name>.<network>');
    }
    const tasks = JSON.parse(c.manager.dockerOk(['service', 'ps', '--format', '{{json .}}', '--filter', 'desired-state=running', 'front']).trim().split('\n')[0]!) as { ID: string; Name: string };
    const full = JSON.parse(c.manager.dockerOk(['inspect', '--type', 'task', tasks.ID]))[0] as { ID: string; Slot: number };
    assert.deepEqual(await resolve4(c.manager.ip, `front.${full.Slot}.${full.ID}`), fronts, 'the task’s container name');
    const aaaa = await resolverOf(c.manager.ip)
      .resolve6('front')
      .catch((e: NodeJS.ErrnoException) => e.code);
    assert.equal(aaaa, 'ENODATA', 'AAAA for a swarm name: the name exists, no IPv6 record');
  });

  test('answers follow the service: scaling changes tasks.<service>, removal drops the name', async () => {
    c.manager.dockerOk(['service', 'scale', '-d', 'backend=3']);
    const three = await waitFor(async () => {
      const a = await taskAddrs('backend');
      return a.length === 3 ? a : undefined;
    }, 60_000, 'three backend tasks');
    await waitFor(async () => JSON.stringify(await resolve4(c.nodes[1]!.ip, 'tasks.backend')) === JSON.stringify(three) || undefined, 20_000, 'tasks.backend has three addresses');
    c.manager.dockerOk(['service', 'rm', 'backend']);
    // Once it is gone the name is no longer the swarm's: forwarded, and the upstream's NXDOMAIN relayed.
    await waitFor(async () => (await resolve4(c.manager.ip, 'tasks.backend')) === 'ENOTFOUND' || undefined, 20_000, 'tasks.backend gone');
    assert.ok(upstreamSeen.includes('tasks.backend'));
  });

  test('names outside the swarm are forwarded to the node’s upstream and the answer relayed', async () => {
    for (const n of c.nodes) assert.deepEqual(await resolve4(n.ip, 'outside.example'), ['192.0.2.44']);
    assert.ok(!upstreamSeen.includes('front') && !upstreamSeen.includes('tasks.front'), 'swarm names never go upstream');
  });
});
