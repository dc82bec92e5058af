// Overlay networks across hosts on the docker runtime (networking.md §2.3): three hosts (network
// namespaces, an engine each), a Shoal daemon per host, driven by the real docker CLI. A published
// port is answered over HTTP on every host, including one without a task (the routing mesh reaches
// the tasks over the `ingress` overlay); a container on one host reaches a task on another by its
// address and by its service's VIP over a user overlay; `network rm` is refused while in use; and
// removing the services leaves no bridge, VXLAN device or engine network behind.
// Needs root and dockerd (test/harness/hosts.ts): runs under CI=true, skips elsewhere with the reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { waitFor, type TaskJson } from '../harness/daemon';
import { HOSTS_IMAGE, TestHosts, hostsTestOptions, type TestHost } from '../harness/hosts';
import { workerSwarm } from '../harness/host-swarm';
import { httpGet } from '../harness/probes';

type Attached = TaskJson & { NetworksAttachments?: { Network: { ID: string; Spec: { Name: string } }; Addresses: string[] }[] };

/** One HTTP GET, bounded; the body, or the error's text. */
const get = (host: string, port: number): Promise<string> => httpGet(host, port).catch((e: Error) => `error: ${e.message}`);

/** An HTTP GET from inside a task container (busybox `nc`; its static `wget` crashes in these images). */
function fetchIn(h: TestHost, container: string, addr: string) {
  return h.engineDocker(['exec', container, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${addr} 80`]);
}

const WEB = `mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www`;

describe('overlay networks across three hosts (docker runtime)', { ...hostsTestOptions(), concurrency: false, timeout: 180_000 }, () => {
  let hs: TestHosts;
  const nodeHost = new Map<string, TestHost>();
  const m = () => hs.host(1);
  const tasks = async (service: string) => (await m().shoal!.runningTasks(service)) as Attached[];
  const containerOf = (h: TestHost, taskId: string): string => {
    const r = h.engineDocker(['ps', '-q', '--filter', `label=com.docker.swarm.task.id=${taskId}`]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  /** Shoal's devices and engine networks on one host. */
  const leftovers = (h: TestHost): string[] => {
    const links = h.run(['ip', '-o', 'link', 'show']).stdout.split('\n').filter((l) => l.includes('alias shoal-overlay:'));
    const nets = h.engineDocker(['network', 'ls', '-q', '--filter', 'label=com.shoal.network.id']).stdout.trim();
    return [...links.map((l) => l.split(':')[1]!.trim()), ...(nets ? nets.split('\n').map((n) => `engine network ${n}`) : [])];
  };

  before(async () => {
    hs = await TestHosts.up({ count: 3 });
    for (const [id, h] of await workerSwarm(hs)) nodeHost.set(id, h);
  });

  after(async () => {
    await hs?.down();
  });

  test('a published port is answered on every host, one without a task too, by tasks on two others', async () => {
    m().dockerOk(['network', 'create', '-d', 'overlay', 'app']);
    const r = m().docker(['service', 'create', '--name', 'web', '--replicas', '2', '--stop-grace-period', '1s', '-p', '8080:80', '--network', 'app', HOSTS_IMAGE, 'sh', '-c', WEB], { timeoutMs: 90_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}\n${m().shoal!.log()}`);
    const web = await waitFor(async () => ((await tasks('web')).length === 2 ? tasks('web') : undefined), 30_000, 'two web tasks running');
    const withTask = new Set(web.map((t) => nodeHost.get(t.NodeID!)!.name));
    assert.equal(withTask.size, 2, 'the two tasks on two hosts');
    for (const t of web) {
      // the container is on its networks at the addresses the allocator gave its task
      const h = nodeHost.get(t.NodeID!)!;
      const c = containerOf(h, t.ID);
      const addrs = h.engineDocker(['inspect', '--format', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}', c]).stdout.trim().split(' ').sort();
      const want = (t.NetworksAttachments ?? []).map((a) => `${a.Network.Spec.Name}=${a.Addresses[0]!.split('/')[0]}`);
      const gw = addrs.find((a) => a.startsWith('docker_gwbridge='));
      assert.ok(gw, `on docker_gwbridge too: ${addrs.join(' ')}`);
      assert.deepEqual(addrs, [...want, gw].sort());
      // its way out is docker_gwbridge (Docker's egress), not an overlay's gateway (no bridge holds it)
      const gwIp = h.engineDocker(['network', 'inspect', '--format', '{{(index .IPAM.Config 0).Gateway}}', 'docker_gwbridge']).stdout.trim();
      assert.match(h.engineDocker(['exec', c, 'ip', 'route', 'show', 'default']).stdout, new RegExp(`^default via ${gwIp.replace(/\./g, '\\.')} `));
    }
    for (const h of hs.hosts) {
      const body = await waitFor(async () => {
        const b = await get(h.ip, 8080);
        return b.startsWith('hello from') ? b : undefined;
      }, 20_000, `HTTP answer on ${h.name}:8080${withTask.has(h.name) ? '' : ' (no task there)'}`);
      assert.match(body, /^hello from \w+/);
    }
    // both tasks answer through one host's mesh (balanced), whichever host that is
    const seen = new Set<string>();
    for (let i = 0; i < 12 && seen.size < 2; i++) seen.add(await get(hs.hosts.find((h) => !withTask.has(h.name))?.ip ?? m().ip, 8080));
    assert.equal(seen.size, 2, `answers: ${[...seen].join(' | ')}`);
  });

  test('a container on one host reaches a task on another by address and by the service VIP over a user overlay', async () => {
    const web = await tasks('web');
    const target = web[0]!;
    const other = hs.hosts.find((h) => h !== nodeHost.get(target.NodeID!))!;
    m().dockerOk(['service', 'create', '--detach', '--name', 'client', '--network', 'app', '--constraint', `node.hostname==${other.name}`, '--stop-grace-period', '1s', HOSTS_IMAGE, 'sleep', '100000']);
    const [client] = await waitFor(async () => ((await tasks('client')).length === 1 ? tasks('client') : undefined), 30_000, 'client running');
    assert.equal(nodeHost.get(client!.NodeID!), other);
    const cid = containerOf(other, client!.ID);
    const addr = target.NetworksAttachments!.find((a) => a.Network.Spec.Name === 'app')!.Addresses[0]!.split('/')[0]!;
    const byAddr = await waitFor(() => {
      const r = fetchIn(other, cid, addr);
      return r.status === 0 && r.stdout.includes('hello from') ? r.stdout : undefined;
    }, 20_000, `HTTP to ${addr} from ${other.name}`);
    assert.match(byAddr, /200 OK[\s\S]*hello from/);
    const appId = m().dockerOk(['network', 'inspect', '--format', '{{.Id}}', 'app']).trim();
    const vips = JSON.parse(m().dockerOk(['service', 'inspect', '--format', '{{json .Endpoint.VirtualIPs}}', 'web'])) as { NetworkID: string; Addr: string }[];
    const vip = vips.find((v) => v.NetworkID === appId)!.Addr.split('/')[0]!;
    const answers = new Set<string>();
    for (let i = 0; i < 40 && answers.size < 2; i++) {
      const r = fetchIn(other, cid, vip);
      const body = r.stdout.split('\r\n\r\n')[1]?.trim();
      if (r.status === 0 && body) answers.add(body);
    }
    assert.equal(answers.size, 2, `the VIP ${vip} balances over both tasks: ${[...answers].join(' | ')}`);
  });

  test('service discovery: a container resolves the service to its VIP and tasks.<service> to the task addresses, and reaches it by name', async () => {
    const web = await tasks('web');
    const [client] = await tasks('client');
    const h = nodeHost.get(client!.NodeID!)!;
    const cid = containerOf(h, client!.ID);
    const appId = m().dockerOk(['network', 'inspect', '--format', '{{.Id}}', 'app']).trim();
    const vips = JSON.parse(m().dockerOk(['service', 'inspect', '--format', '{{json .Endpoint.VirtualIPs}}', 'web'])) as { NetworkID: string; Addr: string }[];
    const vip = vips.find((v) => v.NetworkID === appId)!.Addr.split('/')[0]!;
    const taskAddrs = web.map((t) => t.NetworksAttachments!.find((a) => a.Network.ID === appId)!.Addresses[0]!.split('/')[0]!).sort();
    // busybox nslookup prints the server first, then the answers after the "Name:" line
    const lookup = (name: string): string[] => {
      const out = h.engineDocker(['exec', cid, 'nslookup', name]).stdout;
      const after = out.slice(out.indexOf('Name:'));
      return out.includes('Name:') ? [...after.matchAll(/(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!).sort() : [];
    };
    assert.deepEqual(await waitFor(() => (lookup('web').length ? lookup('web') : undefined), 20_000, 'web resolves'), [vip]);
    assert.deepEqual(lookup('tasks.web'), taskAddrs);
    const byName = await waitFor(() => {
      const r = fetchIn(h, cid, 'web');
      return r.status === 0 && r.stdout.includes('hello from') ? r.stdout : undefined;
    }, 20_000, 'HTTP to web by name');
    assert.match(byName, /200 OK[\s\S]*hello from/);
  });

  test('a daemon restart finds its devices and keeps them; the port is answered there again', async () => {
    const h = hs.host(2);
    const ifindex = () => h.run(['ip', '-o', 'link', 'show']).stdout.split('\n').filter((l) => l.includes('alias shoal-overlay:')).map((l) => l.split(':').slice(0, 2).join(':').trim()).sort();
    const before = ifindex();
    assert.ok(before.length >= 2, before.join(', '));
    await h.shoal!.stop();
    await h.startShoal();
    await waitFor(async () => ((await get(h.ip, 8080)).startsWith('hello from') ? true : undefined), 30_000, `HTTP answer on ${h.name} after its restart`);
    assert.deepEqual(ifindex(), before, 'the same devices (same indexes), not made again');
  });

  test('--opt encrypted: recorded, and network inspect and the daemon log say plainly it is not encrypted', async () => {
    m().dockerOk(['network', 'create', '-d', 'overlay', '--opt', 'encrypted', 'sec']);
    const opts = JSON.parse(m().dockerOk(['network', 'inspect', '--format', '{{json .Options}}', 'sec'])) as Record<string, string>;
    assert.equal(opts.encrypted, '');
    assert.match(opts['com.shoal.network.encryption'] ?? '', /^NOT encrypted: this kernel has neither IPsec ESP nor WireGuard/);
    m().dockerOk(['service', 'create', '--detach', '--name', 'secret', '--network', 'sec', '--stop-grace-period', '1s', HOSTS_IMAGE, 'sleep', '100000']);
    const [t] = await waitFor(async () => ((await tasks('secret')).length === 1 ? tasks('secret') : undefined), 30_000, 'secret running');
    const h = nodeHost.get(t!.NodeID!)!;
    await waitFor(() => (/network sec asks for encryption \(--opt encrypted\), but this node's traffic on it is NOT encrypted/.test(h.shoal!.log()) ? true : undefined), 10_000, `the warning in ${h.name}'s log`);
  });

  test('network rm is refused while a service uses the network', () => {
    const r = m().docker(['network', 'rm', 'app']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /in use|is in use by/i);
  });

  test('a worker leaving the swarm takes its overlays with it', async () => {
    const h = hs.host(3);
    // while a port is published every host has the ingress overlay (a bridge, a VXLAN device, an engine network)
    assert.ok(leftovers(h).length >= 3, `${h.name}: ${leftovers(h).join(', ')}`);
    h.dockerOk(['swarm', 'leave']);
    assert.deepEqual(leftovers(h), []);
    assert.equal(h.engineDocker(['network', 'ls', '-q', '--filter', 'name=docker_gwbridge']).stdout.trim(), '', 'docker_gwbridge made by Shoal goes too');
  });

  test('removing the services leaves no bridge, VXLAN device or engine network behind', async () => {
    const live = [hs.host(1), hs.host(2)];
    for (const h of live) assert.ok(leftovers(h).length >= 3, `${h.name}: ${leftovers(h).join(', ')}`);
    m().dockerOk(['service', 'rm', 'web', 'client', 'secret']);
    for (const h of live) await waitFor(() => (leftovers(h).length === 0 ? true : undefined), 40_000, `${h.name}: no overlay left (${leftovers(h).join(', ')})`, 500);
    m().dockerOk(['network', 'rm', 'app', 'sec']);
  });
});
