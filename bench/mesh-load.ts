// Load generators of the mesh benches (bench/mesh-proxy.ts on loopback, bench/mesh.ts between
// namespaces): closed-loop HTTP/1.1 over keep-alive connections, one connection per request, and UDP
// echo with a window of datagrams in flight. Run as a program it is the client of bench/mesh.ts:
//   node dist/bench/mesh-load.js '<json: {targets: {name: {host, http, udp}}, seconds, rounds, conc, window}>'
// measures every target in alternating rounds of the same run and prints one JSON line of results.
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';

export interface Load {
  count: number;
  lat: number[];
  seconds: number;
  errors: number;
}

export const newLoad = (): Load => ({ count: 0, lat: [], seconds: 0, errors: 0 });
/** The p-th percentile of sorted values. */
export const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

const REQ_KEEPALIVE = Buffer.from(`GET / HTTP/1.1\r\nHost: bench\r\n\r\n`);
const REQ_CLOSE = Buffer.from(`GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n`);

/** Bytes of a complete response at the start of `b` (headers + Content-Length body), or 0 while incomplete. */
function responseLength(b: Buffer): number {
  const h = b.indexOf('\r\n\r\n');
  if (h < 0) return 0;
  const m = /content-length:\s*(\d+)/i.exec(b.subarray(0, h).toString('latin1'));
  const total = h + 4 + (m ? Number(m[1]) : 0);
  return b.length >= total ? total : 0;
}

/** `conc` keep-alive connections, each sending the next request when the previous answer is complete. */
export async function keepAlive(host: string, port: number, conc: number, ms: number, out: Load): Promise<void> {
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      const s = net.connect({ host, port, noDelay: true });
      await once(s, 'connect');
      let buf: Buffer = Buffer.alloc(0);
      let sent = 0;
      let wake: (() => void) | undefined;
      s.on('data', (d: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        const n = responseLength(buf);
        if (n) {
          buf = buf.subarray(n);
          out.lat.push(performance.now() - sent);
          out.count++;
          wake?.();
        }
      });
      s.on('error', () => {
        out.errors++;
        wake?.();
      });
      while (performance.now() < end && !s.destroyed) {
        const done = new Promise<void>((r) => (wake = r));
        sent = performance.now();
        s.write(REQ_KEEPALIVE);
        await done;
      }
      s.destroy();
    }),
  );
  out.seconds += (performance.now() - t0) / 1000;
}

/** `conc` loops of one connection per request (connect, request, read to the server's close). */
export async function perRequest(host: string, port: number, conc: number, ms: number, out: Load): Promise<void> {
  const end = performance.now() + ms;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (performance.now() < end) {
        const start = performance.now();
        const s = net.connect({ host, port, noDelay: true });
        s.on('error', () => out.errors++);
        s.write(REQ_CLOSE);
        s.resume();
        await new Promise((r) => s.once('close', r));
        out.lat.push(performance.now() - start);
        out.count++;
      }
    }),
  );
  out.seconds += (performance.now() - t0) / 1000;
}

/** One flow with `window` datagrams in flight; each echo sends the next. */
export async function udpLoad(host: string, port: number, window: number, ms: number, out: Load): Promise<void> {
  const s = dgram.createSocket('udp4');
  s.bind(0);
  await once(s, 'listening');
  const payload = Buffer.alloc(64, 1);
  const t0 = performance.now();
  let stop = false;
  s.on('message', () => {
    out.count++;
    if (!stop) s.send(payload, port, host);
  });
  for (let i = 0; i < window; i++) s.send(payload, port, host);
  await new Promise((r) => setTimeout(r, ms));
  stop = true;
  out.seconds += (performance.now() - t0) / 1000;
  s.close();
}

export interface ClientTarget {
  host: string;
  http: number;
  udp: number;
}

export interface ClientPlan {
  targets: Record<string, ClientTarget>;
  seconds: number;
  rounds: number;
  conc: number;
  window: number;
}

/** Per load ('keep-alive', 'conn/request', 'udp') and target: ops/s, p50, p99 (ms), errors. */
export type ClientResult = Record<string, Record<string, { ops: number; p50: number; p99: number; errors: number; count: number }>>;

/** Every target in alternating order per round (each path sees the same machine conditions). */
export async function runPlan(plan: ClientPlan): Promise<ClientResult> {
  const names = Object.keys(plan.targets);
  const ms = plan.seconds * 1000;
  const res = new Map<string, Load>();
  const get = (l: string, t: string) => res.get(`${l}|${t}`) ?? res.set(`${l}|${t}`, newLoad()).get(`${l}|${t}`)!;
  for (const t of names) await keepAlive(plan.targets[t]!.host, plan.targets[t]!.http, plan.conc, 300, newLoad());
  // the paths of one load back to back, their order alternating per round: on a machine whose other load comes
  // and goes, every path sees the same conditions
  for (let r = 0; r < plan.rounds; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    for (const t of order) await keepAlive(plan.targets[t]!.host, plan.targets[t]!.http, plan.conc, ms, get('keep-alive', t));
    for (const t of order) await perRequest(plan.targets[t]!.host, plan.targets[t]!.http, Math.max(1, plan.conc / 2), ms, get('conn/request', t));
    for (const t of order) await udpLoad(plan.targets[t]!.host, plan.targets[t]!.udp, plan.window, ms, get('udp', t));
  }
  const out: ClientResult = {};
  for (const l of ['keep-alive', 'conn/request', 'udp']) {
    out[l] = {};
    for (const t of names) {
      const x = get(l, t);
      x.lat.sort((a, b) => a - b);
      out[l]![t] = { ops: x.count / x.seconds, p50: pct(x.lat, 50), p99: pct(x.lat, 99), errors: x.errors, count: x.count };
    }
  }
  return out;
}

if (require.main === module) {
  runPlan(JSON.parse(process.argv[2]!) as ClientPlan).then(
    (r) => console.log(JSON.stringify(r)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
