// The rest of the network API through the real docker CLI, and the PROXY protocol seen by a task:
// three process-runtime nodes on loopback (test/harness/cluster.ts), plus one single-node swarm for
// `swarm init --default-addr-pool`. Docker's behaviour and texts (moby daemon/cluster/networks.go,
// swarmkit controlapi/network.go, libnetwork's network.Services for `inspect --verbose`).
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestCluster } from '../harness/cluster';
import { TestDaemon, freePort, waitFor } from '../harness/daemon';
import { udpExchange } from '../harness/probes';

const NODE = process.execPath;
const HTTP_SERVER = `require('http').createServer((q, r) => r.end(process.env.HOSTNAME + '\\n')).listen(process.env.PORT)`;
// The built PROXY parser, for the task to read its header with (the task runs on this machine).
const PARSER = path.resolve(__dirname, '../../src/network/mesh/core/proxy-protocol.js');
// A task that reads the PROXY header the mesh sends first and answers with what it parsed, as JSON.
const PROXY_TASK = `const { parseProxyHeader } = require(${JSON.stringify(PARSER)});
require('net').createServer((s) => {
  let b = Buffer.alloc(0);
  s.on('error', () => {});
  s.on('data', (d) => {
    b = Buffer.concat([b, d]);
    let h;
    try { h = parseProxyHeader(b); } catch (e) { s.end(JSON.stringify({ error: String(e) }) + '\\n'); return; }
    if (h) s.end(JSON.stringify({ ...h, peer: s.remoteAddress }) + '\\n');
  });
}).listen(process.env.PORT)`;

// A UDP task: each datagram starts with a PROXY v2 header; it answers with the header parsed and the payload after it.
const PROXY_UDP_TASK = `const { parseProxyHeader } = require(${JSON.stringify(PARSER)});
const s = require('dgram').createSocket('udp4');
s.on('message', (m, r) => {
  let out;
  try { const h = parseProxyHeader(m); out = h ? { ...h, payload: m.subarray(h.length).toString() } : { error: 'incomplete' }; } catch (e) { out = { error: String(e) }; }
  s.send(JSON.stringify(out), r.port, r.address);
});
s.bind(Number(process.env.PORT_53_UDP))`;

const udpFrom = (host: string, port: number, localAddress: string, msg: string) => udpExchange(host, port, msg, { localAddress });

/** Connects from `localAddress`, sends nothing, returns the task's one-line answer. */
function askFrom(host: string, port: number, localAddress: string): Promise<{ text: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, localAddress });
    let text = '';
    let localPort = 0;
    s.setTimeout(3000, () => s.destroy(new Error('timed out')));
    s.on('connect', () => (localPort = s.localPort ?? 0));
    s.on('data', (d) => (text += d.toString()));
    s.on('end', () => resolve({ text: text.trim(), localPort }));
    s.on('error', reject);
  });
}

interface VerboseService {
  VIP: string;
  Ports: string[];
  LocalLBIndex: number;
  Tasks: { Name: string; EndpointID: string; EndpointIP: string; Info: Record<string, string> }[];
}

describe('network API and PROXY protocol through the docker CLI (process runtime, 3 nodes)', { concurrency: false, timeout: 240_000 }, () => {
  const c = new TestCluster({ workers: 2 });
  before(async () => {
    await c.start();
  });
  after(async () => {
    await c.cleanup();
  });

  for (const version of ['v1', 'v2'] as const) {
    test(`a service labelled com.shoal.mesh.proxy-protocol=${version} sees the client's real address`, async () => {
      const port = await freePort();
      const name = `pp${version}`;
      const task = c.nodes[1]!;
      c.manager.dockerOk(['service', 'create', '-d', '--name', name, '--label', `com.shoal.mesh.proxy-protocol=${version}`, '--constraint', `node.hostname==${task.hostname}`, '--publish', `${port}:7000`, 'busybox', NODE, '-e', PROXY_TASK]);
      await waitFor(async () => (await c.running(name)).length === 1, 30_000, `${name} running`);
      // From a node without the task, from a client address no node has: only the header can tell it.
      const via = c.nodes[2]!;
      const client = '127.0.0.99';
      const r = await waitFor(() => askFrom(via.ip, port, client).catch(() => undefined), 20_000, `${via.ip}:${port} answers`, 200);
      const h = JSON.parse(r.text);
      assert.equal(h.version, version === 'v1' ? 1 : 2, r.text);
      assert.equal(h.protocol, 'tcp');
      assert.equal(h.srcAddress, client, 'the client address, not the mesh node');
      assert.equal(h.srcPort, r.localPort);
      assert.equal(h.dstPort, port);
      assert.notEqual(h.peer, client, 'the TCP peer itself is the mesh');
      c.manager.dockerOk(['service', 'rm', name]);
    });
  }

  test('UDP with com.shoal.mesh.proxy-protocol=v2: every datagram starts with the client address', async () => {
    const port = await freePort();
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'ppudp', '--label', 'com.shoal.mesh.proxy-protocol=v2', '--constraint', `node.hostname==${c.nodes[1]!.hostname}`, '--publish', `published=${port},target=53,protocol=udp`, 'busybox', NODE, '-e', PROXY_UDP_TASK]);
    await waitFor(async () => (await c.running('ppudp')).length === 1, 30_000, 'ppudp running');
    const client = '127.0.0.98';
    const r = await waitFor(() => udpFrom(c.nodes[2]!.ip, port, client, 'hello').catch(() => undefined), 20_000, 'UDP answered through the mesh', 200);
    const h = JSON.parse(r.text);
    assert.equal(h.version, 2, r.text);
    assert.equal(h.protocol, 'udp');
    assert.equal(h.srcAddress, client);
    assert.equal(h.srcPort, r.localPort);
    assert.equal(h.dstPort, port);
    assert.equal(h.payload, 'hello', 'the datagram follows its header');
    const again = JSON.parse((await udpFrom(c.nodes[2]!.ip, port, client, 'second')).text);
    assert.equal(again.payload, 'second', 'the next datagram has its own header');
    assert.equal(again.srcAddress, client);
    c.manager.dockerOk(['service', 'rm', 'ppudp']);
  });

  test('network inspect --verbose shows the services, VIPs, ports and tasks on a swarm network', async () => {
    const port = await freePort();
    c.manager.dockerOk(['network', 'create', '-d', 'overlay', '--subnet', '10.30.0.0/24', 'vnet']);
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'vsvc', '--replicas', '2', '--network', 'vnet', '--publish', `${port}:80`, 'busybox', NODE, '-e', HTTP_SERVER]);
    await waitFor(async () => (await c.running('vsvc')).length === 2, 30_000, 'vsvc running');
    const svc = JSON.parse(c.manager.dockerOk(['service', 'inspect', 'vsvc']))[0];
    const nodes = new Map(JSON.parse(c.manager.dockerOk(['node', 'inspect', ...c.nodes.map((n) => n.hostname)])).map((n: { ID: string; Status: { Addr: string } }) => [n.ID, n.Status.Addr]));
    const vnet = JSON.parse(c.manager.dockerOk(['network', 'inspect', '--verbose', 'vnet']))[0];
    const s: VerboseService = vnet.Services.vsvc;
    assert.ok(s, `Services has vsvc: ${JSON.stringify(vnet.Services)}`);
    const vip = svc.Endpoint.VirtualIPs.find((v: { NetworkID: string }) => v.NetworkID === vnet.Id).Addr.split('/')[0];
    assert.equal(s.VIP, vip);
    assert.deepEqual(s.Ports, [], 'ports are shown on ingress');
    assert.equal(s.Tasks.length, 2);
    const tasks = await c.running('vsvc');
    for (const t of s.Tasks) {
      const task = JSON.parse(c.manager.dockerOk(['inspect', '--type', 'task', t.Name.split('.').pop()!]))[0];
      assert.ok(tasks.some((x) => x.ID === task.ID));
      assert.match(t.Name, new RegExp(`^vsvc\\.${task.Slot}\\.${task.ID}$`));
      assert.equal(t.EndpointIP, task.NetworksAttachments.find((a: { Network: { ID: string } }) => a.Network.ID === vnet.Id).Addresses[0].split('/')[0]);
      assert.match(t.EndpointIP, /^10\.30\.0\.\d+$/);
      assert.equal(t.Info['Host IP'], nodes.get(task.NodeID));
      assert.match(t.EndpointID, /^[0-9a-f]{64}$/);
    }
    const ing = JSON.parse(c.manager.dockerOk(['network', 'inspect', '--verbose', 'ingress']))[0];
    assert.deepEqual(ing.Services.vsvc.Ports, [`Target: 80, Publish: ${port}`]);
    // Without --verbose, no Services section (as Docker).
    assert.equal(JSON.parse(c.manager.dockerOk(['network', 'inspect', 'vnet']))[0].Services, undefined);
    // The CLI's template over it.
    const tpl = c.manager.dockerOk(['network', 'inspect', '--verbose', '--format', '{{range $k, $v := .Services}}{{$k}}={{len $v.Tasks}} {{end}}', 'vnet']).trim();
    assert.equal(tpl, 'vsvc=2');
    c.manager.dockerOk(['service', 'rm', 'vsvc']);
    await waitFor(() => c.manager.docker(['network', 'rm', 'vnet']).status === 0, 30_000, 'vnet removable');
  });

  test('network ls --filter driver|scope|name|label|type', () => {
    c.manager.dockerOk(['network', 'create', '-d', 'overlay', '--label', 'tier=front', 'flt_a']);
    c.manager.dockerOk(['network', 'create', '-d', 'overlay', '--label', 'tier=back', 'flt_b']);
    const ls = (...f: string[]) => c.manager.dockerOk(['network', 'ls', ...f.flatMap((x) => ['--filter', x]), '--format', '{{.Name}}']).trim().split('\n').filter(Boolean).sort();
    assert.deepEqual(ls('name=flt_'), ['flt_a', 'flt_b']);
    assert.deepEqual(ls('label=tier=front'), ['flt_a']);
    assert.deepEqual(ls('label=tier'), ['flt_a', 'flt_b']);
    assert.deepEqual(ls('driver=overlay', 'name=flt'), ['flt_a', 'flt_b']);
    assert.deepEqual(ls('driver=bridge', 'name=flt'), []);
    assert.deepEqual(ls('scope=swarm', 'name=flt_b'), ['flt_b']);
    assert.deepEqual(ls('scope=local', 'name=flt'), []);
    assert.deepEqual(ls('type=custom', 'name=flt'), ['flt_a', 'flt_b']);
    assert.deepEqual(ls('type=builtin', 'name=flt'), []);
    // Docker's "builtin" is the engine's predefined bridge/host/none; ingress is "custom" (moby's IsPredefined).
    assert.ok(ls('type=custom').includes('ingress'));
    assert.ok(!ls('type=builtin').includes('ingress'));
    assert.deepEqual(ls('dangling=true', 'name=flt'), ['flt_a', 'flt_b'], 'nothing uses them yet');
    assert.deepEqual(ls('dangling=false', 'name=flt'), []);
    const bad = c.manager.docker(['network', 'ls', '--filter', 'type=nope']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /invalid filter: 'type'='nope'/);
    const unknown = c.manager.docker(['network', 'ls', '--filter', 'colour=red']);
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /invalid filter 'colour'/);
  });

  test('network prune removes the unused swarm networks, keeps ingress and the ones in use', async () => {
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'keeper', '--network', 'flt_a', 'busybox', NODE, '-e', 'setInterval(() => {}, 1000)']);
    await waitFor(async () => (await c.running('keeper')).length === 1, 30_000, 'keeper running');
    const filtered = c.manager.dockerOk(['network', 'prune', '-f', '--filter', 'label=tier=none']);
    assert.doesNotMatch(filtered, /flt_/, 'a label filter no network matches removes none');
    const out = c.manager.dockerOk(['network', 'prune', '-f']);
    assert.match(out, /^Deleted Networks:\nflt_b\n/m);
    assert.doesNotMatch(out, /flt_a|ingress/);
    const names = c.manager.dockerOk(['network', 'ls', '--format', '{{.Name}}']);
    assert.match(names, /^flt_a$/m);
    assert.match(names, /^ingress$/m);
    assert.doesNotMatch(names, /^flt_b$/m);
    // until (a duration before now, or a timestamp) and label!: Docker's prune filters.
    c.manager.dockerOk(['network', 'create', '-d', 'overlay', '--label', 'keep=yes', 'flt_c']);
    c.manager.dockerOk(['network', 'create', '-d', 'overlay', 'flt_d']);
    assert.doesNotMatch(c.manager.dockerOk(['network', 'prune', '-f', '--filter', 'until=1h']), /flt_/, 'both are younger than an hour');
    assert.doesNotMatch(c.manager.dockerOk(['network', 'prune', '-f', '--filter', 'until=1000000000']), /flt_/, 'both are younger than 2001');
    const notKeep = c.manager.dockerOk(['network', 'prune', '-f', '--filter', 'label!=keep=yes']);
    assert.match(notKeep, /^flt_d$/m);
    assert.doesNotMatch(notKeep, /flt_c/);
    const bad = c.manager.docker(['network', 'prune', '-f', '--filter', 'driver=overlay']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /invalid filter 'driver'/);
    const badUntil = c.manager.docker(['network', 'prune', '-f', '--filter', 'until=5hx']);
    assert.notEqual(badUntil.status, 0);
    assert.match(badUntil.stderr, /Error response from daemon: .*5hx/);
    assert.match(c.manager.dockerOk(['network', 'prune', '-f', '--filter', 'until=0s']), /^flt_c$/m, 'until=0s: created before now');
    c.manager.dockerOk(['service', 'rm', 'keeper']);
    await waitFor(() => c.manager.docker(['network', 'rm', 'flt_a']).status === 0, 30_000, 'flt_a removable');
  });

  test('ingress: rm refused while a service publishes a port; rm and create --ingress as Docker allows', async () => {
    const port = await freePort();
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'pub', '--publish', `${port}:80`, 'busybox', NODE, '-e', HTTP_SERVER]);
    const svcId = c.manager.dockerOk(['service', 'inspect', 'pub', '--format', '{{.ID}}']).trim();
    const refused = c.manager.daemon.docker(['network', 'rm', 'ingress'], { input: 'y\n' });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, new RegExp(`ingress network cannot be removed because service ${svcId} depends on it`));
    const dup = c.manager.docker(['network', 'create', '-d', 'overlay', '--ingress', 'ingress2']);
    assert.notEqual(dup.status, 0);
    assert.match(dup.stderr, /ingress network \([0-9a-z]+\) is already present/);
    c.manager.dockerOk(['service', 'rm', 'pub']);
    await waitFor(() => c.manager.daemon.docker(['network', 'rm', 'ingress'], { input: 'y\n' }).status === 0, 30_000, 'ingress removable once no service publishes');
    assert.doesNotMatch(c.manager.dockerOk(['network', 'ls', '--format', '{{.Name}}']), /^ingress$/m);
    // Without an ingress network, publishing in ingress mode is refused (swarmkit's controlapi); host mode is not.
    const noIngress = c.manager.docker(['service', 'create', '-d', '--name', 'pub3', '--publish', `${port}:80`, 'busybox', NODE, '-e', HTTP_SERVER]);
    assert.notEqual(noIngress.status, 0);
    assert.match(noIngress.stderr, /service needs ingress network, but no ingress network is present/);
    assert.notEqual(c.manager.docker(['service', 'inspect', 'pub3']).status, 0, 'the service was not created');
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'hostonly', '--publish', `mode=host,published=${port},target=80`, 'busybox', NODE, '-e', HTTP_SERVER]);
    // the allocator's write after the create moves the version: update once the task runs, or the CLI's update is out of sequence
    await waitFor(async () => (await c.running('hostonly')).length === 1, 30_000, 'hostonly running');
    const upd = c.manager.docker(['service', 'update', '-d', '--publish-add', `${await freePort()}:81`, 'hostonly']);
    assert.notEqual(upd.status, 0);
    assert.match(upd.stderr, /service needs ingress network, but no ingress network is present/);
    c.manager.dockerOk(['service', 'rm', 'hostonly']);
    const attachable = c.manager.docker(['network', 'create', '-d', 'overlay', '--ingress', '--attachable', 'myingress']);
    assert.notEqual(attachable.status, 0);
    assert.match(attachable.stderr, /ingress network cannot be attachable/);
    c.manager.dockerOk(['network', 'create', '-d', 'overlay', '--ingress', '--subnet', '10.40.0.0/24', 'myingress']);
    const ing = JSON.parse(c.manager.dockerOk(['network', 'inspect', 'myingress']))[0];
    assert.equal(ing.Ingress, true);
    assert.deepEqual(ing.IPAM.Config, [{ Subnet: '10.40.0.0/24', Gateway: '10.40.0.1' }]);
    // A published port works again through the new ingress, with a task address from its subnet.
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'pub2', '--publish', `${port}:80`, 'busybox', NODE, '-e', HTTP_SERVER]);
    await waitFor(async () => (await c.running('pub2')).length === 1, 30_000, 'pub2 running');
    const t = JSON.parse(c.manager.dockerOk(['inspect', '--type', 'task', (await c.running('pub2'))[0]!.ID]))[0];
    assert.match(t.NetworksAttachments[0].Addresses[0], /^10\.40\.0\.\d+\/24$/);
    c.manager.dockerOk(['service', 'rm', 'pub2']);
  });
});

describe('swarm init --default-addr-pool (process runtime, 1 node)', { concurrency: false, timeout: 60_000 }, () => {
  const d = new TestDaemon();
  before(async () => {
    await d.start();
  });
  after(async () => {
    await d.cleanup();
  });

  test('the pool and mask length are honoured by IPAM and shown by docker info', async () => {
    d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`, '--default-addr-pool', '10.20.0.0/16', '--default-addr-pool-mask-length', '26']);
    const info = d.dockerOk(['info']);
    assert.match(info, /Default Address Pool: 10\.20\.0\.0\/16\s*\n\s*SubnetSize: 26\n/);
    const ing = JSON.parse(d.dockerOk(['network', 'inspect', 'ingress']))[0];
    assert.deepEqual(ing.IPAM.Config, [{ Subnet: '10.20.0.0/26', Gateway: '10.20.0.1' }]);
    d.dockerOk(['network', 'create', '-d', 'overlay', 'pooled']);
    const n = JSON.parse(d.dockerOk(['network', 'inspect', 'pooled']))[0];
    assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.20.0.64/26', Gateway: '10.20.0.65' }]);
    const bad = d.docker(['swarm', 'init', '--default-addr-pool', '10.20.0.0/16', '--default-addr-pool-mask-length', '26']);
    assert.notEqual(bad.status, 0, 'already in a swarm');
  });
});
