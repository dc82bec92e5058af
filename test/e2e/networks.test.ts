// Swarm networks and the routing mesh through the real docker CLI, on three process-runtime daemons
// on loopback (127.0.0.10–12, each node's mesh on its own address): ingress at init, overlay
// networks with Docker's answers, published ports answered on every node (also one without a task),
// TCP and UDP, dynamic ports, --publish-add/--publish-rm without restarting tasks, host mode. (On one
// machine's loopback every address is local, so "host mode answers only on its node" needs the
// namespace hosts of the docker-runtime tests.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster } from '../harness/cluster';
import { freePort, waitFor } from '../harness/daemon';
import { httpGet, udpExchange } from '../harness/probes';

const NODE = process.execPath;
// A process task: an HTTP server on $PORT that names its task, and a UDP echo on $PORT_53_UDP.
const HTTP_SERVER = `require('http').createServer((q, r) => r.end(process.env.HOSTNAME + '\\n')).listen(process.env.PORT)`;
const UDP_ECHO = `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send('echo:' + m, r.port, r.address)); s.bind(process.env.PORT_53_UDP)`;

const get = (host: string, port: number) => httpGet(host, port);
const udpAsk = async (host: string, port: number, msg: string) => (await udpExchange(host, port, msg)).text;

/** Waits until `host:port` answers HTTP (the mesh opens a listener when the node receives the table). */
const answered = (host: string, port: number) => waitFor(() => get(host, port).catch(() => undefined), 20_000, `${host}:${port} answers`, 100);

describe('swarm networks and the routing mesh (process runtime, 3 nodes)', { concurrency: false, timeout: 240_000 }, () => {
  const c = new TestCluster({ workers: 2 });
  before(async () => {
    await c.start();
  });
  after(async () => {
    await c.cleanup();
  });

  test('swarm init creates ingress as Docker shows it', () => {
    const ls = c.manager.dockerOk(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
    assert.match(ls, /^ingress overlay swarm$/m);
    const ing = JSON.parse(c.manager.dockerOk(['network', 'inspect', 'ingress']))[0];
    assert.equal(ing.Ingress, true);
    assert.equal(ing.Scope, 'swarm');
    assert.deepEqual(ing.IPAM.Config, [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }]);
    assert.equal(ing.Options['com.docker.network.driver.overlay.vxlanid_list'], '4096');
    assert.equal(ing.Containers['ingress-sbox'].Name, 'ingress-endpoint');
    assert.match(ing.Containers['ingress-sbox'].IPv4Address, /^10\.0\.0\.\d+\/24$/);
  });

  test('overlay networks: create, subnet overlap and name conflicts refused, rm refused while in use', async () => {
    const id = c.manager.dockerOk(['network', 'create', '--driver', 'overlay', '--subnet', '10.10.10.0/24', 'nginx_network']).trim();
    assert.match(id, /^[0-9a-z]{25}$/);
    const auto = JSON.parse(c.manager.dockerOk(['network', 'create', '-d', 'overlay', '--attachable', '--label', 'team=a', 'auto_net']).trim() && c.manager.dockerOk(['network', 'inspect', 'auto_net']))[0];
    assert.equal(auto.IPAM.Config[0].Subnet, '10.0.1.0/24', 'the next /24 of the default pool');
    assert.equal(auto.Attachable, true);
    assert.deepEqual(auto.Labels, { team: 'a' });
    const overlap = c.manager.docker(['network', 'create', '-d', 'overlay', '--subnet', '10.10.10.128/25', 'bad']);
    assert.notEqual(overlap.status, 0);
    assert.match(overlap.stderr, /Pool overlaps with other one on this address space/);
    const dup = c.manager.docker(['network', 'create', '-d', 'overlay', 'nginx_network']);
    assert.notEqual(dup.status, 0);
    assert.match(dup.stderr, /network with name nginx_network already exists/);
    assert.match(c.manager.dockerOk(['network', 'ls', '--filter', 'driver=overlay', '--format', '{{.Name}}']), /nginx_network/);
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'netuser', '--network', 'nginx_network', 'busybox', NODE, '-e', 'setInterval(() => {}, 1000)']);
    const svc = JSON.parse(c.manager.dockerOk(['service', 'inspect', 'netuser']))[0];
    assert.equal(svc.Spec.TaskTemplate.Networks[0].Target, id, 'the network name resolved to its ID');
    await waitFor(async () => (await c.running('netuser')).length === 1, 30_000, 'netuser running');
    const task = JSON.parse(c.manager.dockerOk(['inspect', '--type', 'task', (await c.running('netuser'))[0]!.ID]))[0];
    assert.match(task.NetworksAttachments[0].Addresses[0], /^10\.10\.10\.\d+\/24$/);
    const rm = c.manager.docker(['network', 'rm', 'nginx_network']);
    assert.notEqual(rm.status, 0);
    assert.match(rm.stderr, new RegExp(`network ${id} is in use by service ${svc.ID}`));
    c.manager.dockerOk(['service', 'rm', 'netuser']);
    await waitFor(() => c.manager.docker(['network', 'rm', 'nginx_network']).status === 0, 30_000, 'nginx_network removable once its tasks are gone');
    c.manager.dockerOk(['network', 'rm', 'auto_net']);
  });

  test('a published port is answered on every node, also one without a task, and balanced over the tasks', async () => {
    const port = await freePort();
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'web', '--replicas', '2', '--constraint', `node.hostname==${c.nodes[1]!.hostname}`, '--publish', `${port}:80`, 'busybox', NODE, '-e', HTTP_SERVER]);
    await waitFor(async () => (await c.running('web')).length === 2, 30_000, 'web running');
    const ls = c.manager.dockerOk(['service', 'ls', '--filter', 'name=web', '--format', '{{.Ports}}']).trim();
    assert.equal(ls, `*:${port}->80/tcp`);
    const names = new Set<string>();
    for (const n of c.nodes) {
      await answered(n.ip, port);
      for (let i = 0; i < 4; i++) names.add(await get(n.ip, port));
    }
    assert.equal(names.size, 2, `both tasks answered: ${[...names].join(', ')}`);
  });

  test('an omitted published port comes from 30000–32767 and is shown in Endpoint.Ports only', async () => {
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'dyn', '--publish', 'target=80', 'busybox', NODE, '-e', HTTP_SERVER]);
    const svc = await waitFor(() => {
      const s = JSON.parse(c.manager.dockerOk(['service', 'inspect', 'dyn']))[0];
      return s.Endpoint.Ports ? s : undefined;
    }, 10_000, 'dyn allocated');
    const p = svc.Endpoint.Ports[0];
    assert.ok(p.PublishedPort >= 30000 && p.PublishedPort <= 32767, `dynamic port ${p.PublishedPort}`);
    assert.equal(svc.Endpoint.Spec.Ports[0].PublishedPort, undefined);
    assert.equal(svc.Endpoint.VirtualIPs.length, 1, 'a VIP on ingress');
    await answered(c.nodes[2]!.ip, p.PublishedPort);
    const conflict = c.manager.docker(['service', 'create', '-d', '--name', 'dyn2', '--publish', `${p.PublishedPort}:80`, 'busybox', NODE, '-e', HTTP_SERVER]);
    assert.notEqual(conflict.status, 0);
    assert.match(conflict.stderr, new RegExp(`port '${p.PublishedPort}' is already in use by service 'dyn' \\(${svc.ID}\\) as an ingress port`));
    c.manager.dockerOk(['service', 'rm', 'dyn']);
  });

  test('--publish-add and --publish-rm take effect without restarting tasks; UDP through the mesh', async () => {
    const [tcpPort, udpPort] = [await freePort(), await freePort()];
    const script = `${HTTP_SERVER}; ${UDP_ECHO}`;
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'both', '--publish', `${tcpPort}:80`, '--publish', `published=${udpPort},target=53,protocol=udp`, 'busybox', NODE, '-e', script]);
    await waitFor(async () => (await c.running('both')).length === 1, 30_000, 'both running');
    const before = (await c.running('both')).map((t) => t.ID);
    await answered(c.nodes[2]!.ip, tcpPort);
    const echo = await waitFor(() => udpAsk(c.nodes[2]!.ip, udpPort, 'ping').catch(() => undefined), 20_000, 'udp answered');
    assert.equal(echo, 'echo:ping');
    const extra = await freePort();
    c.manager.dockerOk(['service', 'update', '-d', '--publish-add', `${extra}:80`, 'both']);
    await answered(c.nodes[1]!.ip, extra);
    assert.equal(await get(c.nodes[0]!.ip, tcpPort).then(Boolean), true, 'the first port still answers');
    // The CLI's --publish-rm matches on the target port (and protocol): this removes the UDP port.
    c.manager.dockerOk(['service', 'update', '-d', '--publish-rm', '53/udp', 'both']);
    await waitFor(() => udpAsk(c.nodes[1]!.ip, udpPort, 'ping').then(() => undefined, () => true), 20_000, `udp ${udpPort} no longer answered`);
    assert.equal(await get(c.nodes[0]!.ip, extra).then(Boolean), true, 'the TCP ports still answer');
    assert.deepEqual((await c.running('both')).map((t) => t.ID), before, 'no task was restarted');
    c.manager.dockerOk(['service', 'rm', 'both']);
  });

  test('host mode: the task binds the published port on its node; service ps shows it', async () => {
    const port = await freePort();
    const node = c.nodes[2]!;
    c.manager.dockerOk(['service', 'create', '-d', '--name', 'hostmode', '--constraint', `node.hostname==${node.hostname}`, '--publish', `mode=host,published=${port},target=80`, 'busybox', NODE, '-e', HTTP_SERVER]);
    await waitFor(async () => (await c.running('hostmode')).length === 1, 30_000, 'hostmode running');
    // The process task binds the published port itself on its node (all addresses: it is the task's own
    // socket); "running" means started, not yet listening, so wait for the answer.
    assert.ok((await answered(node.ip, port)).length > 0);
    const ps = c.manager.dockerOk(['service', 'ps', 'hostmode', '--format', '{{.Ports}}']).trim();
    assert.equal(ps, `*:${port}->80/tcp`);
    // The CLI's `service ls` PORTS lists ingress ports only.
    const svcPorts = c.manager.dockerOk(['service', 'ls', '--filter', 'name=hostmode', '--format', '{{.Ports}}']).trim();
    assert.equal(svcPorts, '');
    c.manager.dockerOk(['service', 'rm', 'hostmode']);
  });
});
