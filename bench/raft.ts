// Issue #3 benchmark: three Raft managers, each with its own MemoryStore, lmdb directory with fsync and
// mutual-TLS gRPC server on 127.0.0.1, measured in two setups:
//  - "3 processes": one child process per manager (bench/raft-node.ts); the load generator runs inside
//    the leader's process; failover is a real SIGKILL of the leader's process. This is the system figure.
//  - "1 process": all three in this process, sharing one event loop and its CPU (conservative).
//   npm run build && node dist/bench/raft.js [--proposals 30000] [--window 2000] [--latency 2000]
//        [--reps 5] [--default-reps 3] [--mode both|proc|inproc] [--prof DIR (children run with --cpu-prof)]
//   --mode encryption [--rounds 3]: the 3-process setup's throughput and one-write latency with the log
//   and snapshots sealed (the default) against the plain-text baseline, rounds interleaved (issue 11:
//   encryption at rest within 10 %). Failover does not read or write sealed data and is not repeated.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Change } from '../src/store';
import { createRootCA, issueNodeKeyAndCertificate } from '../src/manager/ca/pki';
import { RaftTestCluster, nodeObj, type RaftTestNode, type Tuning } from '../test/harness/raft-nodes';
import type { NodeCmd, NodeReply } from './raft-node';
import { newDataKey, seal } from '../src/sys/aead';

type Cmd = NodeCmd extends infer C ? (C extends unknown ? Omit<C, 'id'> : never) : never;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
function sarg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

const FAST: Tuning = { tickMs: 100, electionTick: 10, heartbeatTick: 1 };
const DOCKER: Tuning = { tickMs: 1000, electionTick: 10, heartbeatTick: 1 };

const change = (id: string): Change[] => [{ action: 'create', kind: 'node', object: nodeObj(id) }];
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

interface Results {
  tp: number;
  lat: number[];
  fast: number[];
  def: number[];
}

// ---- one process ---------------------------------------------------------------------------------

async function inprocCluster(t: Tuning): Promise<{ cl: RaftTestCluster; leader: RaftTestNode }> {
  const cl = new RaftTestCluster(t);
  await cl.init();
  const a = await cl.bootstrap();
  await cl.join(a);
  await cl.join(a);
  const leader = await cl.waitLeader(120_000);
  return { cl, leader };
}

async function inprocThroughput(leader: RaftTestNode, total: number, window: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      await leader.c.propose(change(`tp-${i}`));
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return total / ((performance.now() - t0) / 1000);
}

async function inprocLatency(leader: RaftTestNode, n: number): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await leader.store.update((tx) => tx.create('node', nodeObj(`lat-${i}`)));
    xs.push(performance.now() - t0);
  }
  return xs;
}

/** kill -9 of the leader (consensus dropped, port closed) to the first write committed on a survivor. */
async function inprocFailover(t: Tuning): Promise<number> {
  const { cl, leader } = await inprocCluster(t);
  try {
    await leader.store.update((tx) => tx.create('node', nodeObj('before')));
    await new Promise((r) => setTimeout(r, 3 * t.tickMs!));
    const t0 = performance.now();
    leader.crash();
    leader.server.forceStop();
    const end = t0 + 120_000;
    let k = 0;
    while (performance.now() < end) {
      const l = cl.up().find((n) => n.c.isLeader());
      if (l) {
        try {
          await l.store.update((tx) => tx.create('node', nodeObj(`after-${k++}`)));
          return performance.now() - t0;
        } catch {
          /* not yet */
        }
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error('no failover within 120 s');
  } finally {
    await cl.destroy();
  }
}

async function runInproc(): Promise<Results> {
  const { cl, leader } = await inprocCluster(FAST);
  let tp = 0;
  let lat: number[] = [];
  try {
    await inprocThroughput(leader, 2000, 200); // warm-up
    tp = await inprocThroughput(leader, arg('proposals', 30000), arg('window', 2000));
    lat = await inprocLatency(leader, arg('latency', 2000));
  } finally {
    await cl.destroy();
  }
  const fast: number[] = [];
  for (let i = 0; i < arg('reps', 5); i++) fast.push(await inprocFailover(FAST));
  const def: number[] = [];
  for (let i = 0; i < arg('default-reps', 3); i++) def.push(await inprocFailover(DOCKER));
  return { tp, lat, fast, def };
}

// ---- three processes -----------------------------------------------------------------------------

class Child {
  readonly proc: ChildProcess;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  raftId = 0;
  addr = '';
  constructor(profDir: string) {
    const execArgv = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    this.proc = fork(path.join(__dirname, 'raft-node.js'), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (r: NodeReply) => {
      const w = this.waiting.get(r.id);
      if (!w) return;
      this.waiting.delete(r.id);
      if (r.ok) w.resolve(r.value);
      else w.reject(new Error(r.err));
    });
    this.proc.on('exit', () => {
      for (const w of this.waiting.values()) w.reject(new Error('bench node exited'));
      this.waiting.clear();
    });
  }
  call<T>(m: Cmd): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ ...m, id });
    });
  }
  kill(): void {
    this.proc.kill('SIGKILL');
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    await this.call({ cmd: 'stop' }).catch(() => undefined);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

async function procCluster(t: Tuning, profDir = ''): Promise<{ nodes: Child[]; leader: Child; root: string }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-raftbench-'));
  const ca = await createRootCA();
  const nodes: Child[] = [];
  for (let i = 1; i <= 3; i++) {
    const kc = await issueNodeKeyAndCertificate(ca, `node-m${i}`, 'manager', 'cluster-test');
    const c = new Child(profDir);
    c.addr = await c.call<string>({ cmd: 'init', name: `m${i}`, dir: path.join(root, `m${i}`), tls: { ...kc, caPem: ca.certPem }, tuning: t });
    nodes.push(c);
  }
  nodes[0]!.raftId = await nodes[0]!.call<number>({ cmd: 'bootstrap', nodeId: 'node-m1' });
  for (const c of nodes.slice(1)) c.raftId = await c.call<number>({ cmd: 'join', via: nodes[0]!.addr });
  const end = Date.now() + 120_000;
  for (;;) {
    const st = await Promise.all(nodes.map((c) => c.call<{ raftId: number; isLeader: boolean; leader: number }>({ cmd: 'status' })));
    const leaders = st.filter((s) => s.isLeader);
    if (leaders.length === 1 && st.every((s) => s.leader === leaders[0]!.raftId)) {
      return { nodes, leader: nodes[st.indexOf(leaders[0]!)]!, root };
    }
    if (Date.now() > end) throw new Error('no leader');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function procDestroy(cl: { nodes: Child[]; root: string }): Promise<void> {
  await Promise.all(cl.nodes.map((c) => c.stop()));
  fs.rmSync(cl.root, { recursive: true, force: true });
}

async function procFailover(t: Tuning): Promise<number> {
  const cl = await procCluster(t);
  try {
    await cl.leader.call({ cmd: 'latency', n: 1, prefix: 'before' });
    await new Promise((r) => setTimeout(r, 3 * t.tickMs!));
    const survivors = cl.nodes.filter((c) => c !== cl.leader);
    const done = Promise.any(survivors.map((c) => c.call({ cmd: 'writeWhenLeader', timeoutMs: 120_000 })));
    const t0 = performance.now();
    cl.leader.kill();
    await done;
    return performance.now() - t0;
  } finally {
    await procDestroy(cl);
  }
}

async function runProc(): Promise<Results> {
  const cl = await procCluster(FAST, sarg('prof', ''));
  let tp = 0;
  let lat: number[] = [];
  try {
    await cl.leader.call({ cmd: 'throughput', total: 2000, window: 200, prefix: 'warm' });
    tp = await cl.leader.call<number>({ cmd: 'throughput', total: arg('proposals', 30000), window: arg('window', 2000), prefix: 'tp' });
    lat = await cl.leader.call<number[]>({ cmd: 'latency', n: arg('latency', 2000), prefix: 'lat' });
  } finally {
    await procDestroy(cl);
  }
  const fast: number[] = [];
  for (let i = 0; i < arg('reps', 5); i++) fast.push(await procFailover(FAST));
  const def: number[] = [];
  for (let i = 0; i < arg('default-reps', 3); i++) def.push(await procFailover(DOCKER));
  return { tp, lat, fast, def };
}

// ---- encryption at rest: sealed vs plain -----------------------------------------------------------

interface CommitFigures {
  tp: number[];
  lat: number[];
}

async function procCommit(t: Tuning): Promise<{ tp: number; lat: number[] }> {
  const cl = await procCluster(t);
  try {
    await cl.leader.call({ cmd: 'throughput', total: 2000, window: 200, prefix: 'warm' });
    const tp = await cl.leader.call<number>({ cmd: 'throughput', total: arg('proposals', 30000), window: arg('window', 2000), prefix: 'tp' });
    const lat = await cl.leader.call<number[]>({ cmd: 'latency', n: arg('latency', 2000), prefix: 'lat' });
    return { tp, lat };
  } finally {
    await procDestroy(cl);
  }
}

async function runEncryption(): Promise<void> {
  const sealed: CommitFigures = { tp: [], lat: [] };
  const plain: CommitFigures = { tp: [], lat: [] };
  // interleaved, so a change in the machine's load hits both sides alike
  for (let i = 0; i < arg('rounds', 3); i++) {
    for (const [fig, keys] of [[plain, null], [sealed, undefined]] as const) {
      // Docker's tick (1 s): commits do not wait on ticks, and a loaded machine then loses no leader mid-run
      const r = await procCommit({ ...DOCKER, ...(keys === null ? { keys: null } : {}) });
      fig.tp.push(r.tp);
      fig.lat.push(...r.lat);
    }
  }
  // the CPU the encryption adds per entry, measured alone (a loaded machine hides it in the cluster figures)
  const key = newDataKey();
  const entry = Buffer.alloc(400, 7);
  const context = Buffer.from('raft-entry:1000000');
  for (let i = 0; i < 5000; i++) seal(key, entry, context);
  const n = 50_000;
  const s0 = performance.now();
  for (let i = 0; i < n; i++) seal(key, entry, context);
  const sealUs = ((performance.now() - s0) * 1000) / n;
  const median = (xs: number[]) => pct([...xs].sort((a, b) => a - b), 50);
  const p = (xs: number[], q: number) => pct([...xs].sort((a, b) => a - b), q);
  const diff = (a: number, b: number) => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`;
  const rows: string[][] = [
    ['measure (3 processes)', 'plain (baseline)', 'encrypted (AES-256-GCM)', 'difference', 'target'],
    ['commit throughput, median of rounds', `${Math.round(median(plain.tp)).toLocaleString('en-US')} /s`, `${Math.round(median(sealed.tp)).toLocaleString('en-US')} /s`, diff(median(plain.tp), median(sealed.tp)), 'within 10 %'],
    ['commit latency p50', `${p(plain.lat, 50).toFixed(2)} ms`, `${p(sealed.lat, 50).toFixed(2)} ms`, diff(p(plain.lat, 50), p(sealed.lat, 50)), 'within 10 %'],
    ['commit latency p99', `${p(plain.lat, 99).toFixed(2)} ms`, `${p(sealed.lat, 99).toFixed(2)} ms`, diff(p(plain.lat, 99), p(sealed.lat, 99)), ''],
    ['throughput per round', plain.tp.map((x) => Math.round(x)).join(', '), sealed.tp.map((x) => Math.round(x)).join(', '), '', ''],
    ['sealing one 400-byte entry (CPU, one thread)', '–', `${sealUs.toFixed(1)} µs`, `${((sealUs * median(sealed.tp)) / 10_000).toFixed(1)} % of a core at the measured rate`, ''],
  ];
  printTable(`Shoal Raft at rest, sealed vs plain: 3 processes, loopback mTLS gRPC, lmdb with fsync (${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; ${arg('rounds', 3)} interleaved rounds)`, rows);
}

// ---- table ---------------------------------------------------------------------------------------

function printTable(title: string, rows: string[][]): void {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(`\n${title}`);
  for (const [i, r] of rows.entries()) {
    console.log('| ' + r.map((c, j) => c.padEnd(w[j]!)).join(' | ') + ' |');
    if (i === 0) console.log('|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|');
  }
}

function fmtFailover(xs: number[]): string {
  if (xs.length === 0) return '–';
  const s = [...xs].sort((a, b) => a - b);
  return `${(pct(s, 50) / 1000).toFixed(2)} s (${(s[0]! / 1000).toFixed(2)}–${(s[s.length - 1]! / 1000).toFixed(2)})`;
}

async function main(): Promise<void> {
  const mode = sarg('mode', 'both');
  if (mode === 'encryption') return runEncryption();
  const proc = mode === 'inproc' ? undefined : await runProc();
  const inproc = mode === 'proc' ? undefined : await runInproc();
  const cols: [string, Results | undefined][] = [
    ['3 processes', proc],
    ['1 process', inproc],
  ];
  const shown = cols.filter(([, r]) => r);
  const cell = (f: (r: Results) => string) => shown.map(([, r]) => f(r!));
  const lat = (r: Results) => [...r.lat].sort((a, b) => a - b);
  const rows: string[][] = [
    ['measure', ...shown.map(([n]) => n), 'target'],
    ['commit throughput (concurrent proposals, group commit)', ...cell((r) => `${Math.round(r.tp).toLocaleString('en-US')} /s`), '≥ 10,000 /s'],
    ['commit latency p50 (one write at a time, store.update)', ...cell((r) => `${pct(lat(r), 50).toFixed(2)} ms`), '< 2 ms'],
    ['commit latency p99', ...cell((r) => `${pct(lat(r), 99).toFixed(2)} ms`), ''],
    [`leader failover, tick ${FAST.tickMs} ms / election ${FAST.electionTick} (median, min–max)`, ...cell((r) => fmtFailover(r.fast)), '< 2 s'],
    [`leader failover, Docker defaults tick 1 s / election 10 (median, min–max)`, ...cell((r) => fmtFailover(r.def)), 'beat Docker 10.1–15.5 s'],
  ];
  printTable(`Shoal Raft: 3 managers, loopback mTLS gRPC, lmdb with fsync (${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; failover: ${arg('reps', 5)} / ${arg('default-reps', 3)} runs)`, rows);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
