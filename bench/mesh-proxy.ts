// The routing mesh's own cost on loopback: an HTTP/1.1 backend and a UDP echo in one child process, the mesh
// (RoutingMesh) in another, the load generator here; the same client measures via the mesh and straight to the
// backend in alternating rounds of the same run. (`bench/mesh.ts`, between namespaces, is the system figure.)
//   npm run build && node dist/bench/mesh-proxy.js [--seconds 2] [--rounds 2] [--conc 8] [--udp-window 16] [--prof DIR]
import { fork, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { RoutingMesh } from '../src/network/mesh';
import { keepAlive, newLoad, pct, perRequest, udpLoad, type Load } from './mesh-load';

const HOST = '127.0.0.1';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

interface Ports {
  http: number;
  udp: number;
}

/** Child role "backend": an HTTP server answering `ok` and a UDP echo; prints their ports. */
async function backend(): Promise<void> {
  const srv = http.createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' });
    res.end('ok');
  });
  srv.listen(0, HOST);
  await once(srv, 'listening');
  const udp = dgram.createSocket('udp4');
  udp.on('message', (m, r) => udp.send(m, r.port, r.address));
  udp.bind(0, HOST);
  await once(udp, 'listening');
  process.send?.({ http: (srv.address() as net.AddressInfo).port, udp: udp.address().port } satisfies Ports);
}

/** Child role "mesh": a RoutingMesh publishing the backend's ports on free ports; prints them. */
async function mesh(to: Ports): Promise<void> {
  const free = async () => {
    const s = net.createServer().listen(0, HOST);
    await once(s, 'listening');
    const p = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    return p;
  };
  const m = new RoutingMesh({ bindHost: HOST });
  const ports: Ports = { http: await free(), udp: await free() };
  await m.apply([
    { protocol: 'tcp', port: ports.http, backends: [{ id: 'backend', host: HOST, port: to.http }] },
    { protocol: 'udp', port: ports.udp, backends: [{ id: 'backend', host: HOST, port: to.udp }] },
  ]);
  process.send?.(ports);
}

function child(role: string, extra: string[] = []): Promise<{ proc: ChildProcess; ports: Ports }> {
  // --prof DIR: the children (backend, mesh) write CPU profiles there, to see what bounds the mesh
  const prof = process.argv.indexOf('--prof');
  const execArgv = prof >= 0 ? ['--cpu-prof', `--cpu-prof-dir=${process.argv[prof + 1]}`, `--cpu-prof-name=${role}.cpuprofile`] : [];
  const proc = fork(__filename, ['--role', role, ...extra], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  return new Promise((resolve, reject) => {
    proc.once('message', (ports) => resolve({ proc, ports: ports as Ports }));
    proc.once('exit', (code) => reject(new Error(`${role} exited ${code}`)));
  });
}


async function main(): Promise<void> {
  const role = process.argv.indexOf('--role');
  if (role >= 0) {
    process.on('SIGINT', () => process.exit(0)); // exit normally so that --cpu-prof writes its file
    const r = process.argv[role + 1];
    if (r === 'backend') return backend();
    return mesh({ http: arg('http', 0), udp: arg('udp', 0) });
  }
  const ms = arg('seconds', 2) * 1000;
  const rounds = arg('rounds', 2);
  const conc = arg('conc', 8);
  const window = arg('udp-window', 16);
  const be = await child('backend');
  const me = await child('mesh', ['--http', String(be.ports.http), '--udp', String(be.ports.udp)]);
  const targets = { direct: be.ports, mesh: me.ports } as const;
  type Target = keyof typeof targets;
  const loads = ['keep-alive', 'conn/request', 'udp'] as const;
  const res = new Map<string, Load>();
  const get = (l: string, t: Target) => res.get(`${l}|${t}`) ?? res.set(`${l}|${t}`, newLoad()).get(`${l}|${t}`)!;
  // warm both paths (JIT, connection setup) before measuring
  await keepAlive(HOST, targets.mesh.http, conc, 300, newLoad());
  await keepAlive(HOST, targets.direct.http, conc, 300, newLoad());
  for (let r = 0; r < rounds; r++) {
    for (const t of (r % 2 ? ['mesh', 'direct'] : ['direct', 'mesh']) as Target[]) {
      await keepAlive(HOST, targets[t].http, conc, ms, get('keep-alive', t));
      await perRequest(HOST, targets[t].http, Math.max(1, conc / 2), ms, get('conn/request', t));
      await udpLoad(HOST, targets[t].udp, window, ms, get('udp', t));
    }
  }
  // SIGINT lets a profiled child write its profile on the way out
  be.proc.kill('SIGINT');
  me.proc.kill('SIGINT');

  const rows: string[][] = [['load', 'path', 'ops/s', 'p50 ms', 'p99 ms', 'errors']];
  for (const l of loads) {
    for (const t of ['direct', 'mesh'] as Target[]) {
      const x = get(l, t);
      x.lat.sort((a, b) => a - b);
      const unit = l === 'udp' ? 'datagrams' : 'requests';
      rows.push([`${l} (${unit})`, t, (x.count / x.seconds).toFixed(0), l === 'udp' ? '-' : pct(x.lat, 50).toFixed(3), l === 'udp' ? '-' : pct(x.lat, 99).toFixed(3), String(x.errors)]);
    }
  }
  const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  console.log(`\nmesh-proxy on loopback, ${rounds} rounds of ${ms / 1000} s per load and path, ${conc} keep-alive connections (${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  rows.forEach((r, i) => {
    console.log('| ' + r.map((c, j) => c.padEnd(w[j])).join(' | ') + ' |');
    if (i === 0) console.log('|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|');
  });
  const k = (t: Target) => get('keep-alive', t);
  const rps = (t: Target) => k(t).count / k(t).seconds;
  const ratio = rps('mesh') / rps('direct');
  const dp99 = pct(k('mesh').lat, 99) - pct(k('direct').lat, 99);
  console.log(`mesh-proxy: ${rps('mesh').toFixed(0)} req/s via mesh, ${rps('direct').toFixed(0)} req/s direct, ratio ${ratio.toFixed(2)}, p99 ${dp99 >= 0 ? '+' : ''}${dp99.toFixed(3)} ms`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
