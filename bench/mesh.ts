// The routing mesh between hosts (issue 10's figure): four simulated hosts (network namespaces on a
// bridge, test/harness/hosts.ts, no engines), a process-runtime Shoal daemon in h1, h2 and h3 (h1 init,
// h2 and h3 join), one service task on h2 (an HTTP server and a UDP echo) published in ingress mode. The
// client runs in h4's namespace (another machine on the same network, no daemon) and measures in
// alternating rounds of the same run: through h1's mesh (`h1:published`, a node without the task; the
// kernel path, nftables DNAT, turned on with --mesh-nft nft), through h3's mesh (`h3:published`, also without the task, started with
// `--mesh-nft none`: the user-space proxy) and straight to the task (`h2:task port`).
// Needs root; sets up and tears down its own namespaces and daemons.
//   npm run build && node dist/bench/mesh.js [--seconds 0.5] [--rounds 12] [--conc 8] [--udp-window 16] [--prof DIR]
// --prof DIR: h3's daemon (whose user-space mesh carries its traffic) writes a CPU profile there when it stops.
// The last line: `mesh: X req/s via mesh, Y req/s direct, ratio R, p99 +D ms` (keep-alive HTTP, h1's mesh).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from '../test/harness/daemon';
import { TestHosts, hostsUnavailableReason } from '../test/harness/hosts';
import type { ClientPlan, ClientResult } from './mesh-load';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

// The task: HTTP answering `ok` on $PORT (keep-alive), a UDP echo on $PORT_9000_UDP; it writes its
// ports where the bench reads them (the direct path).
const task = (file: string) => `
const http = require('http'), dgram = require('dgram'), fs = require('fs');
const srv = http.createServer({ keepAliveTimeout: 60000 }, (q, r) => { r.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' }); r.end('ok'); });
srv.listen(Number(process.env.PORT), () => {
  const u = dgram.createSocket('udp4');
  u.on('message', (m, r) => u.send(m, r.port, r.address));
  u.bind(Number(process.env.PORT_9000_UDP), () => fs.writeFileSync(${JSON.stringify(file)}, JSON.stringify({ http: Number(process.env.PORT), udp: Number(process.env.PORT_9000_UDP) })));
});`;

async function main(): Promise<void> {
  const why = hostsUnavailableReason();
  if (why) {
    console.log(`mesh: skipped (${why})`);
    return;
  }
  const plan = { seconds: arg('seconds', 0.5), rounds: arg('rounds', 12), conc: arg('conc', 8), window: arg('udp-window', 16) };
  const hosts = await TestHosts.up({ count: 4, engines: false });
  try {
    const [h1, h2, h3, client] = [hosts.host(1), hosts.host(2), hosts.host(3), hosts.host(4)];
    const profDir = process.argv.includes('--prof') ? path.resolve(process.argv[process.argv.indexOf('--prof') + 1]!) : undefined;
    // h1 and h2 with the kernel path turned on (opt-in); h3 with it off, as the default
    for (const h of [h1, h2]) await h.startShoal({ runtime: 'process', extraArgs: ['--mesh-nft', 'nft'] });
    await h3.startShoal({ runtime: 'process', extraArgs: ['--mesh-nft', 'none'], ...(profDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-name=h3-daemon.cpuprofile'] } : {}) });
    const port = 2377;
    h1.dockerOk(['swarm', 'init', '--advertise-addr', h1.ip, '--listen-addr', `${h1.ip}:${port}`]);
    const token = h1.dockerOk(['swarm', 'join-token', '-q', 'worker']).trim();
    for (const h of [h2, h3]) h.dockerOk(['swarm', 'join', '--token', token, `${h1.ip}:${port}`]);
    const portsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-mesh-bench-')), 'ports.json');
    const [pubHttp, pubUdp] = [await freePort(), await freePort()];
    h1.dockerOk(['service', 'create', '-d', '--name', 'bench', '--constraint', 'node.hostname==h2', '--publish', `${pubHttp}:80`, '--publish', `published=${pubUdp},target=9000,protocol=udp`, 'busybox', process.execPath, '-e', task(portsFile)]);
    const direct = await waitFor(() => (fs.existsSync(portsFile) ? (JSON.parse(fs.readFileSync(portsFile, 'utf8')) as { http: number; udp: number }) : undefined), 60_000, 'the task listening', 200);
    const clientPlan: ClientPlan = { ...plan, targets: { direct: { host: h2.ip, ...direct }, mesh: { host: h1.ip, http: pubHttp, udp: pubUdp }, 'user-space mesh': { host: h3.ip, http: pubHttp, udp: pubUdp } } };
    const load = path.join(__dirname, 'mesh-load.js');
    for (const h of [h1, h3]) {
      const ask = `require('http').get('http://${h.ip}:${pubHttp}/', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))`;
      await waitFor(() => client.run([process.execPath, '-e', ask], 5000).status === 0 || undefined, 30_000, `the mesh on ${h.name} answering`, 200);
    }
    // h1's kernel path takes both ports once the task accepted a connection from h1 (its admission probe)
    const inKernel = () => [`tcp_${pubHttp}`, `udp_${pubUdp}`].every((c) => h1.run(['nft', 'list', 'chain', 'ip', 'shoal-mesh', c], 5000).status === 0);
    await waitFor(() => inKernel() || undefined, 30_000, "h1's kernel path carrying both ports", 200);
    const r = spawnSync(client.launcher[0]!, [...client.launcher.slice(1), process.execPath, load, JSON.stringify(clientPlan)], { encoding: 'utf8', timeout: (plan.seconds * plan.rounds * 9 + 60) * 1000 });
    if (r.status !== 0) throw new Error(`client failed (${r.status}): ${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as ClientResult;
    report(res, plan);
    h1.docker(['service', 'rm', 'bench']);
    fs.rmSync(path.dirname(portsFile), { recursive: true, force: true });
  } finally {
    await hosts.down();
  }
}

function report(res: ClientResult, plan: { seconds: number; rounds: number; conc: number; window: number }): void {
  const rows: string[][] = [['load', 'path', 'ops/s', 'p50 ms', 'p99 ms', 'errors']];
  for (const l of ['keep-alive', 'conn/request', 'udp']) {
    for (const t of ['direct', 'mesh', 'user-space mesh']) {
      const x = res[l]![t]!;
      const udp = l === 'udp';
      rows.push([`${l} (${udp ? 'datagrams' : 'requests'})`, t, x.ops.toFixed(0), udp ? '-' : x.p50.toFixed(3), udp ? '-' : x.p99.toFixed(3), String(x.errors)]);
    }
  }
  const w = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  console.log(`\nmesh between namespaces (client on h4; task on h2; mesh = h1's kernel path, user-space mesh = h3's proxy), ${plan.rounds} rounds of ${plan.seconds} s per load and path, ${plan.conc} keep-alive connections, UDP window ${plan.window} (${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  rows.forEach((r, i) => {
    console.log('| ' + r.map((c, j) => c.padEnd(w[j]!)).join(' | ') + ' |');
    if (i === 0) console.log('|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|');
  });
  const k = res['keep-alive']!;
  const u = res.udp!;
  const c = res['conn/request']!;
  const signed = (ms: number) => `${ms >= 0 ? '+' : ''}${ms.toFixed(3)}`;
  const us = 'user-space mesh';
  console.log(`user-space mesh: ${k[us]!.ops.toFixed(0)} req/s, ratio ${(k[us]!.ops / k.direct!.ops).toFixed(2)}, p99 ${signed(k[us]!.p99 - k.direct!.p99)} ms; udp ratio ${(u[us]!.ops / u.direct!.ops).toFixed(2)}`);
  console.log(`conn/request: ${c.mesh!.ops.toFixed(0)} req/s via mesh, ${c.direct!.ops.toFixed(0)} direct, ratio ${(c.mesh!.ops / c.direct!.ops).toFixed(2)}, p99 ${signed(c.mesh!.p99 - c.direct!.p99)} ms`);
  console.log(`udp: ${u.mesh!.ops.toFixed(0)} datagrams/s via mesh, ${u.direct!.ops.toFixed(0)} direct, ratio ${(u.mesh!.ops / u.direct!.ops).toFixed(2)}`);
  console.log(`mesh: ${k.mesh!.ops.toFixed(0)} req/s via mesh, ${k.direct!.ops.toFixed(0)} req/s direct, ratio ${(k.mesh!.ops / k.direct!.ops).toFixed(2)}, p99 ${signed(k.mesh!.p99 - k.direct!.p99)} ms`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
