// Published ports and service discovery across hosts on the docker runtime (networking.md §2.1–2.3):
// three hosts (network namespaces, an engine each), a Shoal daemon per host, driven by the real docker
// CLI. Host-mode ports are bound only where a task runs (and a fourth task finds no node, with
// Docker's reason); a container on one host resolves a dnsrr service and `tasks.<svc>` on another and
// reaches it by name, while its own `--dns` server answers the names outside the swarm behind the
// node's DNS; `--publish-add` is answered without restarting tasks; a task sees the client's address
// in the PROXY header; and a bounded request loop against a node without a task loses no request
// while a node with tasks is drained and while the service's image is rolled.
// Needs root and dockerd (test/harness/hosts.ts): runs under CI=true, skips elsewhere with the reason.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { waitFor, type TaskJson } from '../harness/daemon';
import { DnsUpstreamProcess } from '../harness/dns-upstream';
import { HOSTS_IMAGE, TestHosts, hostsTestOptions, type TestHost } from '../harness/hosts';
import { workerSwarm } from '../harness/host-swarm';
import { httpGet, udpExchange } from '../harness/probes';
import { RequestLoop, type LoopResult } from '../harness/request-loop';

type Attached = TaskJson & { NetworksAttachments?: { Network: { ID: string; Spec: { Name: string } }; Addresses: string[] }[] };

/** One HTTP GET, bounded; the body, or the error's text. */
const get = (host: string, port: number): Promise<string> => httpGet(host, port, 2000).catch((e: Error) => `error: ${e.message}`);

const WEB = `mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www`;
/** Appends every connection's bytes to /tmp/got (busybox nc: one connection per run). */
const SINK = `while :; do nc -l -p 80 >> /tmp/got; done`;
/** A UDP echo on port 80 (Node, run inside a task container's network namespace). */
const UDP_ECHO = `const s = require('dgram').createSocket('udp4'); s.on('message', (m, r) => s.send('echo:' + m, r.port, r.address)); s.bind(80); setTimeout(() => process.exit(0), 120000);`;

describe('published ports and discovery across three hosts (docker runtime)', { ...hostsTestOptions(), concurrency: false, timeout: 300_000 }, () => {
  let hs: TestHosts;
  const nodeHost = new Map<string, TestHost>();
  const m = () => hs.host(1);
  const tasks = async (service: string) => (await m().shoal!.runningTasks(service)) as Attached[];
  const running = (service: string, n: number) => waitFor(async () => ((await tasks(service)).length === n ? tasks(service) : undefined), 60_000, `${n} ${service} tasks running`);
  const hostsOf = (ts: TaskJson[]) => new Set(ts.map((t) => nodeHost.get(t.NodeID!)!));
  const containerOf = (h: TestHost, taskId: string): string => {
    const r = h.engineDocker(['ps', '-q', '--filter', `label=com.docker.swarm.task.id=${taskId}`]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  const create = (args: string[]) => m().dockerOk(['service', 'create', '--detach', '--stop-grace-period', '1s', ...args], { timeoutMs: 60_000 });

  before(async () => {
    hs = await TestHosts.up({ count: 3 });
    for (const [id, h] of await workerSwarm(hs)) nodeHost.set(id, h);
    // a second tag of the test image on every engine, for the rolling update
    for (const h of hs.hosts) assert.equal(h.engineDocker(['tag', HOSTS_IMAGE, 'busybox:v2']).status, 0);
    m().dockerOk(['network', 'create', '-d', 'overlay', 'app']);
  });

  after(async () => {
    await hs?.down();
  });

  test('host mode: answered only on the nodes running a task, TCP and UDP; PORTS as Docker shows them; --publish-add replaces the tasks; a fourth task finds no node', async (t) => {
    create(['--name', 'hm', '--replicas', '2', '--publish', 'mode=host,published=8081,target=80', '--publish', 'mode=host,published=8081,target=80,protocol=udp', HOSTS_IMAGE, 'sh', '-c', WEB]);
    const hm = await running('hm', 2);
    const withTask = hostsOf(hm);
    assert.equal(withTask.size, 2, 'two tasks on two hosts');
    // busybox has no UDP server: a UDP echo runs in each task container's network namespace (nsenter),
    // so a datagram to the host's 8081/udp reaches the task's 80/udp through the engine's binding
    const echoes = hm.map((task) => {
      const h = nodeHost.get(task.NodeID!)!;
      const pid = h.engineDocker(['inspect', '--format', '{{.State.Pid}}', containerOf(h, task.ID)]).stdout.trim();
      return spawn('nsenter', [`--net=/proc/${pid}/ns/net`, '--', process.execPath, '-e', UDP_ECHO], { stdio: 'ignore' });
    });
    const stopEchoes = () => echoes.forEach((e) => e.kill());
    t.after(stopEchoes);
    for (const h of hs.hosts) {
      if (withTask.has(h)) {
        const echo = await waitFor(() => udpExchange(h.ip, 8081, 'ping', { timeoutMs: 1000 }).then((r) => r.text, () => undefined), 20_000, `UDP on ${h.name}:8081`);
        assert.equal(echo, 'echo:ping');
        const body = await waitFor(async () => ((await get(h.ip, 8081)).startsWith('hello from') ? get(h.ip, 8081) : undefined), 20_000, `HTTP on ${h.name}:8081`);
        const c = containerOf(h, hm.find((t) => nodeHost.get(t.NodeID!) === h)!.ID);
        assert.equal(body, `hello from ${c}`, `answered by ${h.name}'s own task`);
      } else {
        assert.match(await get(h.ip, 8081), /^error: .*ECONNREFUSED/, `${h.name} runs no task: nothing listens on 8081`);
        await assert.rejects(udpExchange(h.ip, 8081, 'ping', { timeoutMs: 1000 }), `${h.name} runs no task: no UDP answer on 8081`);
      }
      const udp = h.run(['ss', '-Hlun', 'sport = :8081']).stdout.trim();
      if (withTask.has(h)) assert.match(udp, /:8081\b/, `${h.name} binds 8081/udp`);
      else assert.equal(udp, '', `${h.name} binds no 8081/udp`);
    }
    stopEchoes();
    // `service ps` PORTS once the tasks reported their bindings; Endpoint.Ports keeps the host mode
    const ports = await waitFor(() => {
      const lines = m().dockerOk(['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Ports}}', 'hm']).trim().split('\n');
      return lines.every((l) => l !== '') ? lines : undefined;
    }, 20_000, 'service ps PORTS filled');
    assert.deepEqual(ports, ['*:8081->80/tcp,*:8081->80/udp', '*:8081->80/tcp,*:8081->80/udp']);
    const ep = JSON.parse(m().dockerOk(['service', 'inspect', '--format', '{{json .Endpoint.Ports}}', 'hm'])) as unknown[];
    assert.deepEqual(ep, [
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8081, PublishMode: 'host' },
      { Protocol: 'udp', TargetPort: 80, PublishedPort: 8081, PublishMode: 'host' },
    ]);
    // a host-mode --publish-add needs new containers (the binding is made at create): the tasks are replaced
    const before = hm.map((t) => t.ID).sort();
    m().dockerOk(['service', 'update', '--detach', '--update-parallelism', '2', '--publish-add', 'mode=host,published=8084,target=80', 'hm']);
    const moved = await waitFor(async () => {
      const ts = await tasks('hm');
      return ts.length === 2 && ts.every((t) => !before.includes(t.ID)) ? ts : undefined;
    }, 60_000, 'hm tasks replaced');
    for (const h of hostsOf(moved)) await waitFor(async () => ((await get(h.ip, 8084)).startsWith('hello from') ? true : undefined), 20_000, `HTTP on ${h.name}:8084`);
    m().dockerOk(['service', 'scale', '--detach', 'hm=4']);
    await running('hm', 3);
    let ps = '';
    const err = await waitFor(() => {
      ps = m().dockerOk(['service', 'ps', '--no-trunc', '--filter', 'desired-state=running', '--format', '{{.CurrentState}}|{{.Error}}', 'hm']);
      return ps.split('\n').find((l) => l.startsWith('Pending') && l.includes('no suitable'));
    }, 20_000, 'the fourth task pending with a reason').catch((e: Error) => assert.fail(`${e.message}\n${ps}`));
    assert.match(err, /\|"no suitable node \(host-mode port already in use on 3 nodes\)"$/, 'the CLI quotes the error');
    m().dockerOk(['service', 'rm', 'hm']);
    await waitFor(() => (hs.hosts.every((h) => h.engineDocker(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=hm']).stdout.trim() === '') ? true : undefined), 30_000, 'hm containers gone');
  });

  test('a container reaches a dnsrr service and tasks.<svc> on another host by name; its own --dns answers the rest behind the node DNS, after a daemon restart too', async () => {
    const upstream = new DnsUpstreamProcess(hs.bridgeIp, 53, { 'outside.shoal.test': '192.0.2.44' });
    try {
      await upstream.listening();
      create(['--name', 'rr', '--replicas', '2', '--endpoint-mode', 'dnsrr', '--network', 'app', HOSTS_IMAGE, 'sh', '-c', WEB]);
      const rr = await running('rr', 2);
      const other = hs.hosts.find((h) => !hostsOf(rr).has(h))!;
      create(['--name', 'cl', '--network', 'app', '--constraint', `node.hostname==${other.name}`, '--dns', hs.bridgeIp, '--dns-search', 'shoal.test', '--dns-option', 'ndots:2', HOSTS_IMAGE, 'sleep', '100000']);
      const [cl] = await running('cl', 1);
      assert.equal(nodeHost.get(cl!.NodeID!), other);
      const cid = containerOf(other, cl!.ID);
      const appId = m().dockerOk(['network', 'inspect', '--format', '{{.Id}}', 'app']).trim();
      const rrAddrs = rr.map((t) => t.NetworksAttachments!.find((a) => a.Network.ID === appId)!.Addresses[0]!.split('/')[0]!).sort();
      // busybox nslookup tries a short name with the search domain only: swarm names are asked as
      // absolute names (trailing dot); `nc` below (the libc resolver) tries the search domain, then the
      // name. Through the engine's 127.0.0.11 that second try was answered empty (it forwards no
      // single-label name once ndots is set): the container asks the node's DNS itself.
      const lookup = (name: string): string[] => {
        const out = other.engineDocker(['exec', cid, 'nslookup', name]).stdout;
        return out.includes('Name:') ? [...out.slice(out.indexOf('Name:')).matchAll(/(\d+\.\d+\.\d+\.\d+)/g)].map((x) => x[1]!).sort() : [];
      };
      const rrFound = await waitFor(() => (lookup('rr.').length ? lookup('rr.') : undefined), 20_000, 'rr resolves').catch((e: Error) =>
        assert.fail(`${e.message}\n${other.engineDocker(['exec', cid, 'nslookup', 'rr.']).stdout}\n${other.engineDocker(['exec', cid, 'cat', '/etc/resolv.conf']).stdout}\nupstream saw: ${upstream.questions().join(' ')}`),
      );
      assert.deepEqual(rrFound, rrAddrs, 'dnsrr: the task addresses, no VIP');
      assert.deepEqual(lookup('tasks.rr.'), rrAddrs);
      const byName = await waitFor(() => {
        const r = other.engineDocker(['exec', cid, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 rr 80`]);
        return r.status === 0 && r.stdout.includes('hello from') ? r.stdout : undefined;
      }, 20_000, 'HTTP to rr by name');
      assert.match(byName, /200 OK[\s\S]*hello from/);
      // the task's --dns server answers names outside the swarm, through the node's DNS (the swarm's
      // names above never reached it); search and options are the task's
      assert.deepEqual(lookup('outside'), ['192.0.2.44'], 'outside + the search domain, answered upstream');
      // (its output is read once the event loop runs again, after the synchronous CLI calls)
      await waitFor(() => (upstream.questions().includes('outside.shoal.test') ? true : undefined), 5_000, `outside.shoal.test upstream (saw: ${upstream.questions().join(' ')})`);
      assert.ok(!upstream.questions().some((q) => q === 'rr' || q === 'tasks.rr'), `swarm names never go upstream: ${upstream.questions().join(' ')}`);
      const conf = other.engineDocker(['exec', cid, 'cat', '/etc/resolv.conf']).stdout;
      const nodeAddr = other.run(['ip', '-4', '-o', 'addr', 'show']).stdout;
      const ns = /^nameserver (\S+)$/m.exec(conf)?.[1] ?? '';
      assert.ok(ns && nodeAddr.includes(` ${ns}/`), `the nameserver is ${other.name}'s own address: ${conf}`);
      assert.match(conf, /^search shoal\.test$/m);
      assert.match(conf, /^options ndots:2$/m);
      // without ndots the container keeps the engine's 127.0.0.11 (nothing mounted, as in Docker), which
      // forwards to the node's DNS: swarm names by the node, the rest by the task's --dns
      create(['--name', 'cl2', '--network', 'app', '--constraint', `node.hostname==${other.name}`, '--dns', hs.bridgeIp, HOSTS_IMAGE, 'sleep', '100000']);
      const [cl2] = await running('cl2', 1);
      const cid2 = containerOf(other, cl2!.ID);
      const lookup2 = (name: string): string[] => {
        const out = other.engineDocker(['exec', cid2, 'nslookup', name]).stdout;
        return out.includes('Name:') ? [...out.slice(out.indexOf('Name:')).matchAll(/(\d+\.\d+\.\d+\.\d+)/g)].map((x) => x[1]!).sort() : [];
      };
      assert.match(other.engineDocker(['exec', cid2, 'cat', '/etc/resolv.conf']).stdout, /^nameserver 127\.0\.0\.11$/m);
      assert.equal(other.engineDocker(['inspect', '--format', '{{len .Mounts}}', cid2]).stdout.trim(), '0');
      assert.deepEqual(await waitFor(() => (lookup2('rr').length ? lookup2('rr') : undefined), 20_000, 'rr from cl2'), rrAddrs);
      assert.deepEqual(lookup2('outside.shoal.test'), ['192.0.2.44']);
      // a restarted daemon adopts the running container and forwards its queries to its --dns again
      await other.shoal!.stop();
      await other.startShoal();
      // first the node's DNS back on its address there (swarm names, answered by the node itself); each
      // try may wait out busybox's timeouts while it is not
      assert.deepEqual(await waitFor(() => (lookup('tasks.rr.').length ? lookup('tasks.rr.') : undefined), 90_000, `the node DNS back after ${other.name}'s restart`), rrAddrs);
      const again = await waitFor(() => (lookup('outside').length ? lookup('outside') : undefined), 30_000, `outside after ${other.name}'s restart`).catch((e: Error) =>
        assert.fail(`${e.message}\n${other.engineDocker(['exec', cid, 'nslookup', 'outside']).stdout}\nupstream saw: ${upstream.questions().slice(-6).join(' ')}\n${other.shoal!.log().split('\n').filter((l) => /dns|overlay/i.test(l)).slice(-15).join('\n')}`),
      );
      assert.deepEqual(again, ['192.0.2.44']);
      m().dockerOk(['service', 'rm', 'cl', 'cl2', 'rr']);
    } finally {
      upstream.stop();
    }
  });

  test('--publish-add is answered on every host without restarting the tasks (a first port: with new ones on ingress)', async () => {
    create(['--name', 'web', '--replicas', '2', '-p', '8080:80', HOSTS_IMAGE, 'sh', '-c', WEB]);
    const before = (await running('web', 2)).map((t) => t.ID).sort();
    for (const h of hs.hosts) await waitFor(async () => ((await get(h.ip, 8080)).startsWith('hello from') ? true : undefined), 20_000, `${h.name}:8080`);
    m().dockerOk(['service', 'update', '--detach', '--publish-add', '8082:80', 'web']);
    for (const h of hs.hosts) await waitFor(async () => ((await get(h.ip, 8082)).startsWith('hello from') ? true : undefined), 20_000, `${h.name}:8082`);
    assert.deepEqual((await tasks('web')).map((t) => t.ID).sort(), before, 'the same tasks');
    // a service that published nothing has tasks without an `ingress` address: its first port replaces them
    create(['--name', 'np', HOSTS_IMAGE, 'sh', '-c', WEB]);
    const [np] = await running('np', 1);
    m().dockerOk(['service', 'update', '--detach', '--publish-add', '8085:80', 'np']);
    for (const h of hs.hosts) await waitFor(async () => ((await get(h.ip, 8085)).startsWith('hello from') ? true : undefined), 40_000, `${h.name}:8085`);
    assert.notEqual((await tasks('np'))[0]!.ID, np!.ID, 'a new task, on ingress');
    m().dockerOk(['service', 'rm', 'np']);
  });

  test('the PROXY header (v1) seen by a task on the docker runtime carries the client address', async () => {
    create(['--name', 'pp', '--label', 'com.shoal.mesh.proxy-protocol=v1', '-p', '8083:80', HOSTS_IMAGE, 'sh', '-c', SINK]);
    const [pp] = await running('pp', 1);
    const taskHost = nodeHost.get(pp!.NodeID!)!;
    const via = hs.hosts.find((h) => h !== taskHost)!;
    const got = () => taskHost.engineDocker(['exec', containerOf(taskHost, pp!.ID), 'cat', '/tmp/got']).stdout;
    const line = await waitFor(async () => {
      await new Promise<void>((resolve) => {
        const s = net.connect({ host: via.ip, port: 8083 }, () => s.end('hello\n'));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.setTimeout(3000, () => s.destroy());
      });
      return got().includes('hello') ? got() : undefined;
    }, 20_000, `a connection through ${via.name}'s mesh reaching the task`);
    const m1 = /PROXY TCP4 (\S+) (\S+) (\d+) (\d+)\r\nhello\n/.exec(line);
    assert.ok(m1, JSON.stringify(line));
    assert.deepEqual([m1[1], m1[2], m1[4]], [hs.bridgeIp, via.ip, '8083'], 'the client (root namespace, on the bridge) and the address it connected to');
    m().dockerOk(['service', 'rm', 'pp']);
  });

  const loopResult = (r: LoopResult) => `${r.failures} of ${r.requests} failed: ${r.errors.join('; ')} ${JSON.stringify(r.byBody)}`;

  test('drain of a node with tasks: no request lost through a node without one', async () => {
    const web = await tasks('web');
    const withTask = hostsOf(web);
    const target = hs.hosts.find((h) => !withTask.has(h))!;
    const drained = [...withTask].find((h) => h !== m())!;
    const drainedId = [...nodeHost].find(([, h]) => h === drained)![0];
    const loop = new RequestLoop([{ host: target.ip, port: 8080 }], { concurrency: 4, maxMs: 90_000 });
    await loop.started();
    await new Promise((r) => setTimeout(r, 1000));
    m().dockerOk(['node', 'update', '--availability', 'drain', drained.name]);
    await waitFor(async () => {
      const ts = await tasks('web');
      return ts.length === 2 && ts.every((t) => t.NodeID !== drainedId) ? true : undefined;
    }, 60_000, `web moved off ${drained.name}`);
    await new Promise((r) => setTimeout(r, 1000));
    const r = await loop.stop();
    m().dockerOk(['node', 'update', '--availability', 'active', drained.name]);
    console.log(`drain: ${r.requests} requests through ${target.name}, ${r.failures} failed`);
    assert.ok(r.requests > 20, loopResult(r));
    assert.equal(r.failures, 0, loopResult(r));
  });

  test('rolling update of the image: no request lost through a node without a task', async () => {
    const web = await tasks('web');
    const target = hs.hosts.find((h) => !hostsOf(web).has(h)) ?? hs.host(3);
    const loop = new RequestLoop([{ host: target.ip, port: 8080 }], { concurrency: 4, maxMs: 120_000 });
    await loop.started();
    await new Promise((r) => setTimeout(r, 1000));
    m().dockerOk(['service', 'update', '--detach', '--image', 'busybox:v2', '--update-parallelism', '1', '--update-delay', '0s', 'web']);
    await waitFor(async () => {
      const ts = await tasks('web');
      return ts.length === 2 && ts.every((t) => (t.Spec.ContainerSpec?.Image ?? "").startsWith('busybox:v2')) ? true : undefined;
    }, 90_000, 'web rolled to busybox:v2');
    await new Promise((r) => setTimeout(r, 1000));
    const r = await loop.stop();
    console.log(`rolling update: ${r.requests} requests through ${target.name}, ${r.failures} failed`);
    assert.ok(r.requests > 20, loopResult(r));
    assert.equal(r.failures, 0, loopResult(r));
  });
});
