// Issue 15: what one heartbeat costs in CPU, on the manager that answers it and on the agent that sends it,
// over our RPC layer (grpc-js, mutual TLS on loopback). A server process answers; this process holds N
// clients (a fleet of agents, one connection each), each sending one heartbeat per period, spread evenly
// over the period as real agents are. Per way of sending, the CPU both processes used over a window,
// divided by the heartbeats in it:
//   call     a unary call per heartbeat (Heartbeat, what swarmkit's agents do)
//   stream   a message on an open bidirectional stream, answered by a message (Heartbeats)
//   oneway   a message on an open stream, not answered (the floor of the stream)
//
//   npm run build && node dist/bench/heartbeat-cost.js [--clients 1000] [--period-ms 5000] [--seconds 10] [--modes call,stream,oneway]
import { fork, type ChildProcess } from 'node:child_process';
import { createRootCA, issueNodeKeyAndCertificate } from '../src/manager/ca/pki';
import { ALL_NODES, bidi, createRpcClient, createRpcServer, defineService, unary, type RpcClient } from '../src/rpc';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

type Mode = 'call' | 'stream' | 'oneway';
interface Material {
  caPem: string;
  certPem: string;
  keyPem: string;
}
interface Beat {
  sessionId: string;
}
interface Answer {
  heartbeatPeriodMs: number;
}

const BeatService = defineService('shoal.BenchBeat', {
  Beat: unary<Beat, Answer>(ALL_NODES),
  Beats: bidi<Beat, Answer>(ALL_NODES),
  /** Messages in, nothing out. */
  Oneway: bidi<Beat, Answer>(ALL_NODES),
});

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the server process -------------------------------------------------------------------------

async function serve(m: Material, periodMs: number): Promise<number> {
  const srv = createRpcServer({ ...m, address: '127.0.0.1:0' });
  srv.addService(BeatService, {
    Beat: async () => ({ heartbeatPeriodMs: periodMs }),
    Beats: async function* (reqs) {
      for await (const _ of reqs) yield { heartbeatPeriodMs: periodMs };
    },
    Oneway: async function* (reqs) {
      for await (const _ of reqs);
    },
  });
  await srv.start();
  return srv.port;
}

if (process.argv[2] === '--serve') {
  process.once('message', (msg: { material: Material; periodMs: number }) => {
    void serve(msg.material, msg.periodMs).then((port) => process.send!({ port }));
    process.on('message', (q) => {
      if (q === 'cpu') process.send!({ cpuMs: cpuMs() });
    });
  });
} else {
  void main();
}

// ---- the clients (this process) -----------------------------------------------------------------

async function measure(mode: Mode, clients: number, periodMs: number, seconds: number, m: Material): Promise<{ serverUs: number; clientUs: number; beats: number }> {
  const child: ChildProcess = fork(__filename, ['--serve']);
  const next = <T>() => new Promise<T>((r) => child.once('message', (x) => r(x as T)));
  const timers: NodeJS.Timeout[] = [];
  const conns: RpcClient[] = [];
  try {
    child.send({ material: m, periodMs });
    const { port } = await next<{ port: number }>();
    for (let i = 0; i < clients; i++) {
      const c = createRpcClient(`127.0.0.1:${port}`, { ...m, serverRole: 'swarm-manager' });
      await c.unary(BeatService, 'Beat', { sessionId: `s${i}` }, { timeoutMs: 10_000 });
      conns.push(c);
    }
    let failures = 0;
    conns.forEach((c, i) => {
      let send: () => void;
      if (mode === 'call') {
        send = () => void c.unary(BeatService, 'Beat', { sessionId: `s${i}` }, { timeoutMs: 10_000 }).catch(() => failures++);
      } else {
        const s = c.bidi(BeatService, mode === 'stream' ? 'Beats' : 'Oneway');
        void (async () => {
          for await (const _ of s.responses);
        })().catch(() => failures++);
        send = () => void s.send({ sessionId: `s${i}` }).catch(() => failures++);
      }
      // spread over the period, as agents that started at different moments
      timers.push(setTimeout(() => timers.push(setInterval(send, periodMs)), (i * periodMs) / clients));
    });
    await sleep(periodMs + 1000); // every client in its rhythm
    child.send('cpu');
    const s0 = (await next<{ cpuMs: number }>()).cpuMs;
    const c0 = cpuMs();
    await sleep(seconds * 1000);
    child.send('cpu');
    const s1 = (await next<{ cpuMs: number }>()).cpuMs;
    const c1 = cpuMs();
    if (failures > 0) throw new Error(`${mode}: ${failures} heartbeats failed`);
    const beats = (clients * seconds * 1000) / periodMs;
    return { serverUs: ((s1 - s0) * 1000) / beats, clientUs: ((c1 - c0) * 1000) / beats, beats };
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const c of conns) c.close();
    child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const clients = Number(arg('clients', '1000'));
  const periodMs = Number(arg('period-ms', '5000'));
  const seconds = Number(arg('seconds', '10'));
  const modes = arg('modes', 'call,stream,oneway').split(',') as Mode[];
  const ca = await createRootCA();
  // one manager certificate for both sides: the RPC layer's roles are not what is measured
  const kc = await issueNodeKeyAndCertificate(ca, 'bench-node', 'manager', 'cluster-bench');
  const m: Material = { caPem: ca.certPem, certPem: kc.certPem, keyPem: kc.keyPem };
  const what: Record<Mode, string> = {
    call: 'a unary call per heartbeat',
    stream: 'a message on an open stream, answered',
    oneway: 'a message on an open stream, not answered',
  };
  console.log(`\nCPU per heartbeat: ${clients} agents over mutual TLS on loopback, one heartbeat each per ${periodMs} ms, ${seconds} s measured (node ${process.version}; load ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  console.log('| way | heartbeats | answering side (µs each) | sending side (µs each) |');
  console.log('|---|---|---|---|');
  for (const mode of modes) {
    const r = await measure(mode, clients, periodMs, seconds, m);
    console.log(`| ${what[mode]} | ${r.beats} | ${r.serverUs.toFixed(0)} | ${r.clientUs.toFixed(0)} |`);
  }
  process.exit(0);
}
