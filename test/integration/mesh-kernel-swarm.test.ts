// No request lost on the routing mesh's kernel path while a swarm changes (issue 10): four simulated hosts
// (test/harness/hosts.ts, no engines), process-runtime Shoal daemons on h1–h3 as root in their own namespaces (so
// the kernel path is on), a 3-replica HTTP service kept off h1, and a request loop in h4's namespace through h1's
// published port (h1 has no task: nftables DNAT to h2/h3). Through `docker node update --availability drain` and a
// rolling update every request is answered: a stopping task leaves h1's nft map before it gets its signal (the
// agent's drain hold), and a new task joins it only after it accepted a connection (it listens 200 ms after start).
// Three replicas as in mesh-drain.test.ts: with two, a stop-first update stops the second old task while the first
// new one may not listen yet (200 ms, longer on a loaded machine), which leaves no ready backend on any path.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, waitFor } from '../harness/daemon';
import { TestHosts, hostsTestOptions, type TestHost } from '../harness/hosts';
import { RequestLoop } from '../harness/request-loop';

const HTTP_SERVER = `setTimeout(() => require('http').createServer((q, r) => r.end(process.env.HOSTNAME + '\\n')).listen(process.env.PORT), 200)`;

describe('routing mesh kernel path under change: drain and rolling update lose no request (3 nodes in namespaces)', { ...hostsTestOptions(), concurrency: false, timeout: 240_000 }, () => {
  let hosts: TestHosts;
  let h1: TestHost, h2: TestHost, client: TestHost;
  let port = 0;
  const running = () =>
    h1
      .dockerOk(['service', 'ps', 'web', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}'])
      .trim()
      .split('\n')
      .filter((l) => /^h\d Running/.test(l));
  const converged = (what: string, ok: (nodes: string[]) => boolean = () => true) =>
    waitFor(() => {
      const r = running();
      const all = h1.dockerOk(['service', 'ps', 'web', '--format', '{{.DesiredState}} {{.CurrentState}}']).trim().split('\n');
      const settled = all.every((l) => l.startsWith('Running Running') || /^Shutdown (Shutdown|Complete|Failed)/.test(l));
      return r.length === 3 && settled && ok(r.map((l) => l.split(' ')[0]!)) ? true : undefined;
    }, 90_000, what, 200);

  before(async () => {
    hosts = await TestHosts.up({ count: 4, engines: false });
    [h1, h2] = [hosts.host(1), hosts.host(2)];
    client = hosts.host(4);
    // the kernel path is opt-in (mesh.md "Kernel path")
    for (const h of hosts.hosts.slice(0, 3)) await h.startShoal({ runtime: 'process', extraArgs: ['--mesh-nft', 'nft'] });
    h1.dockerOk(['swarm', 'init', '--advertise-addr', h1.ip, '--listen-addr', `${h1.ip}:2377`]);
    const token = h1.dockerOk(['swarm', 'join-token', '-q', 'worker']).trim();
    for (const h of [h2, hosts.host(3)]) h.dockerOk(['swarm', 'join', '--token', token, `${h1.ip}:2377`]);
    port = await freePort();
    h1.dockerOk(['service', 'create', '-d', '--name', 'web', '--replicas', '3', '--constraint', 'node.hostname!=h1', '--update-delay', '200ms', '--publish', `${port}:80`, 'busybox', process.execPath, '-e', HTTP_SERVER]);
    await converged('web running on h2 and h3', (n) => new Set(n).size === 2 && !n.includes('h1'));
    await waitFor(() => h1.run(['nft', 'list', 'chain', 'ip', 'shoal-mesh', `tcp_${port}`], 5000).status === 0 || undefined, 30_000, "h1's kernel path carrying the port", 200);
  });
  after(async () => {
    await hosts?.down();
  });

  test('drain of a node, then a rolling update, through h1 (no task) from another namespace', async () => {
    const loop = new RequestLoop([{ host: h1.ip, port }], { concurrency: 4, launcher: client.launcher });
    await loop.started();
    h1.dockerOk(['node', 'update', '--availability', 'drain', 'h2']);
    await converged('web off h2', (n) => n.every((x) => x === 'h3'));
    h1.dockerOk(['service', 'update', '-d', '--env-add', 'V=1', 'web']);
    await waitFor(() => /completed/.test(h1.dockerOk(['service', 'inspect', 'web', '--format', '{{.UpdateStatus.State}}'])) || undefined, 90_000, 'update completed', 200);
    await converged('web updated');
    const r = await loop.stop();
    console.log(`# kernel path, drain + rolling update: ${r.requests} requests, ${r.failures} failed; answered by ${JSON.stringify(r.byBody)}`);
    assert.ok(r.requests > 50, `the loop ran (${r.requests} requests)`);
    assert.equal(r.failures, 0, `no request lost: ${r.errors.join('; ')}`);
    assert.ok(Object.keys(r.byBody).length >= 3, `old and new tasks answered: ${JSON.stringify(r.byBody)}`);
    // the loop went through nftables on h1: its DNAT counter for the port moved
    const counters = JSON.parse(h1.run(['nft', '-j', 'list', 'counters', 'table', 'ip', 'shoal-mesh']).stdout) as { nftables: { counter?: { name: string; packets: number } }[] };
    const conns = counters.nftables.find((x) => x.counter?.name === `tcp_${port}_conns`)?.counter?.packets ?? 0;
    assert.ok(conns > 0, `h1's nft counted connections (${conns} since its last table load)`);
  });

  test("a daemon's stop removes its nft table", async () => {
    await h1.shoal!.stop(20_000);
    assert.notEqual(h1.run(['nft', 'list', 'table', 'ip', 'shoal-mesh']).status, 0, "h1's table is gone");
    assert.equal(h2.run(['nft', 'list', 'table', 'ip', 'shoal-mesh']).status, 0, "h2's is not (its daemon runs)");
  });
});
