// Issue 15: what one idle agent session costs the manager that holds it, layer by layer. A server
// process holds N idle connections from a client process, each with one open stream as an agent's
// session holds its assignment stream, and reports its RSS before and after (two full GCs first), so
// the difference per connection is what the server keeps for each:
//   tcp   a plain socket (the floor);
//   tls   mutual TLS 1.3 over it (our CA's certificates, as managers and nodes use);
//   h2    HTTP/2 over that TLS, one open stream per session;
//   rpc   our RPC layer (grpc-js over that), one open server stream per session;
//   rpc4  the same with four open server streams per session, as many as an agent holds with the manager
//         it is connected to (heartbeats, assignments, status reports, log subscriptions).
// Every connection is opened and answered one at a time; the counts are of the server alone.
//
//   npm run build && node dist/bench/session-memory.js [--sessions 1000] [--modes tcp,tls,h2,rpc,rpc4]
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { createRootCA, issueNodeKeyAndCertificate } from '../src/manager/ca/pki';
import { ALL_NODES, createRpcClient, createRpcServer, defineService, serverStream, type RpcClient } from '../src/rpc';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

type Mode = 'tcp' | 'tls' | 'h2' | 'rpc' | 'rpc4';
interface Material {
  caPem: string;
  certPem: string;
  keyPem: string;
}
interface Reading {
  rssKiB: number;
  heapUsed: number;
}

const HoldService = defineService('shoal.BenchHold', {
  /** Sends one message, then stays open until the client goes (an agent's assignment stream at rest). */
  Hold: serverStream<Record<string, never>, { ok: boolean }>(ALL_NODES),
});

const tlsOptions = (m: Material) => ({ ca: m.caPem, cert: m.certPem, key: m.keyPem, minVersion: 'TLSv1.3' as const });

// ---- the server process -------------------------------------------------------------------------

async function serve(mode: Mode, m: Material): Promise<number> {
  const greet = (s: net.Socket) => {
    s.on('error', () => undefined);
    s.write('x');
  };
  const listen = (srv: net.Server) => new Promise<number>((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as net.AddressInfo).port)));
  if (mode === 'tcp') return listen(net.createServer(greet));
  if (mode === 'tls') return listen(tls.createServer({ ...tlsOptions(m), requestCert: true, rejectUnauthorized: true }, greet));
  if (mode === 'h2') {
    const srv = http2.createSecureServer({ ...tlsOptions(m), requestCert: true, rejectUnauthorized: true });
    srv.on('stream', (st) => {
      st.on('error', () => undefined);
      st.respond({ ':status': 200 });
      st.write('x');
    });
    return listen(srv);
  }
  const srv = createRpcServer({ ...m, address: '127.0.0.1:0' });
  srv.addService(HoldService, {
    Hold: async function* (_req: unknown, ctx: { signal: AbortSignal }) {
      yield { ok: true };
      await new Promise<void>((r) => (ctx.signal.aborted ? r() : ctx.signal.addEventListener('abort', () => r(), { once: true })));
    },
  });
  await srv.start();
  return srv.port;
}

function reading(): Reading {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  gc();
  const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]!;
  return { rssKiB: Number(rss), heapUsed: process.memoryUsage().heapUsed };
}

if (process.argv[2] === '--serve') {
  process.once('message', (msg: { mode: Mode; material: Material }) => {
    void serve(msg.mode, msg.material).then((port) => process.send!({ port }));
    process.on('message', (q) => {
      if (q === 'read') setTimeout(() => process.send!(reading()), 300);
    });
  });
} else {
  void main();
}

// ---- the client (this process) ------------------------------------------------------------------

function open(mode: Mode, port: number, m: Material, keep: unknown[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${mode}: no answer within 10 s`)), 10_000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    if (mode === 'tcp' || mode === 'tls') {
      const s = mode === 'tcp' ? net.connect(port, '127.0.0.1') : tls.connect({ ...tlsOptions(m), port, host: '127.0.0.1', servername: 'swarm-manager' });
      s.once('data', done).on('error', reject);
      keep.push(s);
    } else if (mode === 'h2') {
      const s = http2.connect(`https://127.0.0.1:${port}`, { ...tlsOptions(m), servername: 'swarm-manager' });
      s.on('error', reject);
      const st = s.request({ ':method': 'POST', ':path': '/hold' }, { endStream: false });
      st.once('data', done).on('error', reject);
      keep.push(s, st);
    } else {
      const c: RpcClient = createRpcClient(`127.0.0.1:${port}`, m);
      keep.push(c);
      const firsts: Promise<unknown>[] = [];
      for (let i = 0; i < (mode === 'rpc4' ? 4 : 1); i++) {
        const it = c.serverStream(HoldService, 'Hold', {})[Symbol.asyncIterator]();
        keep.push(it);
        firsts.push(it.next());
      }
      Promise.all(firsts).then(done, reject);
    }
  });
}

async function measure(mode: Mode, sessions: number, m: Material): Promise<{ perSessionKiB: number; heapPerSessionKiB: number }> {
  const child: ChildProcess = fork(__filename, ['--serve'], { execArgv: ['--expose-gc'] });
  const next = <T>() => new Promise<T>((r) => child.once('message', (x) => r(x as T)));
  try {
    child.send({ mode, material: m });
    const { port } = await next<{ port: number }>();
    child.send('read');
    const before = await next<Reading>();
    const keep: unknown[] = [];
    for (let i = 0; i < sessions; i++) await open(mode, port, m, keep);
    child.send('read');
    const after = await next<Reading>();
    for (const k of keep) {
      const o = k as { destroy?: () => void; close?: () => void; return?: () => unknown };
      if (typeof o.return === 'function') void o.return();
      else if (typeof o.close === 'function') o.close();
      else o.destroy?.();
    }
    return { perSessionKiB: (after.rssKiB - before.rssKiB) / sessions, heapPerSessionKiB: (after.heapUsed - before.heapUsed) / sessions / 1024 };
  } finally {
    child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const sessions = Number(arg('sessions', '1000'));
  const modes = arg('modes', 'tcp,tls,h2,rpc,rpc4').split(',') as Mode[];
  const ca = await createRootCA();
  const kc = await issueNodeKeyAndCertificate(ca, 'bench-node', 'manager', 'cluster-bench');
  const m: Material = { caPem: ca.certPem, certPem: kc.certPem, keyPem: kc.keyPem };
  const what: Record<Mode, string> = {
    tcp: 'plain TCP socket',
    tls: '+ mutual TLS 1.3',
    h2: '+ HTTP/2, one open stream',
    rpc: 'our RPC layer (grpc-js), one open server stream',
    rpc4: 'our RPC layer (grpc-js), four open server streams',
  };
  console.log(`\nOne idle session held by a server process: ${sessions} sessions, RSS and V8 heap added per session (node ${process.version}, OpenSSL ${process.versions.openssl})`);
  console.log('| layer | RSS per session | of it V8 heap |');
  console.log('|---|---|---|');
  for (const mode of modes) {
    const r = await measure(mode, sessions, m);
    console.log(`| ${what[mode]} | ${r.perSessionKiB.toFixed(1)} KiB | ${r.heapPerSessionKiB.toFixed(1)} KiB |`);
  }
  process.exit(0);
}
