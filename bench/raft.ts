// Issue #3 benchmark: three Raft managers, each with its own MemoryStore, Raft log (segment files, fdatasync) and
// mutual-TLS gRPC server on 127.0.0.1, measured in two setups:
//  - "3 processes": one child process per manager (bench/raft-node.ts); the load generator runs inside
//    the leader's process; failover is a real SIGKILL of the leader's process. This is the system figure.
//  - "1 process": all three in this process, sharing one event loop and its CPU (conservative).
//   npm run build && node dist/bench/raft.js [--proposals 30000] [--window 2000] [--latency 2000]
//        [--reps 5] [--default-reps 3] [--mode both|proc|inproc] [--prof DIR (children run with --cpu-prof)]
//        [--prof-interval µs (the profiles' sampling interval, default 1000)]
//        [--tick-ms N (the 3-process throughput and latency run's tick; failover keeps its own)]
//        [--no-fsync (the 3-process run with the log not syncing: what the path costs without the disk)]
//        [--trace N (after the latency run, N more one-at-a-time writes with the commit trace on in all three
//        processes (src/manager/consensus/commit-trace.ts); prints one commit's timeline, medians over the N)]
//   --mode single [--latency N] [--proposals N] [--window N]: one manager alone (a one-manager swarm, B5's
//   case: a lone voter), in this process: one-at-a-time commit latency, then throughput.
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
import { encodeBatch } from '../src/manager/consensus/log-format';
import type { CommitMark } from '../src/manager/consensus/commit-trace';

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

async function inprocLatency(leader: RaftTestNode, n: number, prefix = 'lat'): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await leader.store.update((tx) => tx.create('node', nodeObj(`${prefix}-${i}`)));
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

/** A lone voter's commit: what each write of a one-manager swarm waits for. */
async function runSingle(): Promise<void> {
  const cl = new RaftTestCluster(FAST);
  await cl.init();
  let lat: number[] = [];
  let tp = 0;
  try {
    const leader = await cl.bootstrap();
    await cl.waitLeader(120_000);
    await inprocLatency(leader, 200, 'warm'); // warm-up
    lat = sorted(await inprocLatency(leader, arg('latency', 2000)));
    tp = await inprocThroughput(leader, arg('proposals', 30000), arg('window', 2000));
  } finally {
    await cl.destroy();
  }
  const floor = await measureFloor();
  printTable(`Shoal Raft, one manager (lone voter), log with fdatasync, one write at a time (${os.cpus().length} CPUs, load average ${fmtLoad(os.loadavg())})`, [
    ['measure', 'figure'],
    ['commit latency p50 / p90 / p99 (store.update)', `${pct(lat, 50).toFixed(3)} / ${pct(lat, 90).toFixed(3)} / ${pct(lat, 99).toFixed(3)} ms`],
    ['commit throughput (concurrent proposals, group commit)', `${Math.round(tp).toLocaleString('en-US')} /s`],
    ...floorRows(floor, 2, 1),
  ]);
}

// ---- three processes -----------------------------------------------------------------------------

class Child {
  readonly proc: ChildProcess;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  raftId = 0;
  addr = '';
  constructor(profDir: string) {
    const execArgv = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-interval=${arg('prof-interval', 1000)}`] : [];
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
  // --tick-ms 1000 keeps the leader on a loaded machine (commits do not wait on ticks)
  const cl = await procCluster({ ...FAST, tickMs: arg('tick-ms', FAST.tickMs!), ...(process.argv.includes('--no-fsync') ? { fsync: false } : {}) }, sarg('prof', ''));
  let tp = 0;
  let lat: number[] = [];
  try {
    await cl.leader.call({ cmd: 'throughput', total: 2000, window: 200, prefix: 'warm' });
    tp = await cl.leader.call<number>({ cmd: 'throughput', total: arg('proposals', 30000), window: arg('window', 2000), prefix: 'tp' });
    lat = await cl.leader.call<number[]>({ cmd: 'latency', n: arg('latency', 2000), prefix: 'lat' });
    if (arg('trace', 0) > 0) await traceCommits(cl, arg('trace', 0));
  } finally {
    await procDestroy(cl);
  }
  const fast: number[] = [];
  for (let i = 0; i < arg('reps', 5); i++) fast.push(await procFailover(FAST));
  const def: number[] = [];
  for (let i = 0; i < arg('default-reps', 3); i++) def.push(await procFailover(DOCKER));
  return { tp, lat, fast, def };
}

// ---- one commit's timeline ---------------------------------------------------------------------------

type Marks = [CommitMark, number, number][];

/**
 * One-at-a-time writes with the commit trace on everywhere; prints each step's time since the write
 * began (median and p90 over the writes) and the step's own share. A step of a follower is the one of
 * whichever follower acknowledged first (the quorum's).
 */
async function traceCommits(cl: { nodes: Child[]; leader: Child }, n: number): Promise<void> {
  await Promise.all(cl.nodes.map((c) => c.call({ cmd: 'trace', on: true })));
  await cl.leader.call({ cmd: 'latency', n, prefix: 'trace' });
  const marks = await Promise.all(cl.nodes.map((c) => c.call<Marks>({ cmd: 'trace', on: false })));
  const firstOf = (ms: Marks) => {
    const at = new Map<string, number>();
    for (const [mark, index, us] of ms) if (!at.has(`${mark} ${index}`)) at.set(`${mark} ${index}`, us);
    return at;
  };
  const leader = firstOf(marks[cl.nodes.indexOf(cl.leader)]!);
  const followers = cl.nodes.filter((c) => c !== cl.leader).map((c) => firstOf(marks[cl.nodes.indexOf(c)]!));
  const steps: [string, 'L' | 'F', CommitMark][] = [
    ['leader: store.update called', 'L', 'start'],
    ['leader: Ready with the entry', 'L', 'ready'],
    ['leader: append handed to the transport', 'L', 'send-app'],
    ['leader: append written to the stream', 'L', 'flush-app'],
    ['follower: append received, decoded', 'F', 'recv-app'],
    ['follower: Ready with the entry', 'F', 'ready'],
    ['follower: entry durable', 'F', 'persisted'],
    ['follower: ack handed to the transport', 'F', 'send-ack'],
    ['follower: ack written to the stream', 'F', 'flush-ack'],
    ['leader: ack received, decoded', 'L', 'recv-ack'],
    ['leader: entry durable (own write)', 'L', 'persisted'],
    ['leader: Ready with the commit', 'L', 'commit-ready'],
    ['leader: entry applied', 'L', 'applied'],
    ['leader: store.update resolved', 'L', 'resolved'],
  ];
  const starts = [...leader].filter(([k]) => k.startsWith('start ') && Number(k.slice(6)) > 0).map(([k]) => Number(k.slice(6)));
  const at: number[][] = steps.map(() => []);
  for (const index of starts) {
    const t0 = leader.get(`start ${index}`)!;
    const f = followers.filter((m) => m.has(`flush-ack ${index}`)).sort((a, b) => a.get(`flush-ack ${index}`)! - b.get(`flush-ack ${index}`)!)[0];
    const row = steps.map(([, who, mark]) => (who === 'L' ? leader : f)?.get(`${mark} ${index}`));
    if (row.some((v) => v === undefined)) continue;
    row.forEach((v, i) => at[i]!.push((v! - t0) / 1000));
  }
  const rows: string[][] = [['step', 'since start: p50 (p90)', 'step: p50 of the differences to the row above']];
  steps.forEach(([label], i) => {
    const d = i === 0 ? [0] : at[i]!.map((v, j) => v - at[i - 1]![j]!);
    rows.push([label, `${median(at[i]!).toFixed(3)} ms (${pct(sorted(at[i]!), 90).toFixed(3)})`, `${median(d) >= 0 ? '+' : ''}${median(d).toFixed(3)} ms`]);
  });
  // spans between steps that are not neighbours in the table: [label, from step, to step (the later of several)]
  const row = (mark: CommitMark, who: 'L' | 'F') => steps.findIndex(([, w, m]) => m === mark && w === who);
  const spans: [string, number[], number[]][] = [
    ['span: append on the wire (leader wrote it → follower decoded it)', [row('flush-app', 'L')], [row('recv-app', 'F')]],
    ["span: follower's write (its Ready → durable)", [row('ready', 'F')], [row('persisted', 'F')]],
    ['span: ack on the wire (follower wrote it → leader decoded it)', [row('flush-ack', 'F')], [row('recv-ack', 'L')]],
    ["span: leader's own write (its Ready → durable, in the background)", [row('ready', 'L')], [row('persisted', 'L')]],
    ['span: later of (first ack, own write) → Ready with the commit', [row('recv-ack', 'L'), row('persisted', 'L')], [row('commit-ready', 'L')]],
  ];
  for (const [label, from, to] of spans) {
    const d = at[0]!.map((_, j) => Math.max(...to.map((i) => at[i]![j]!)) - Math.max(...from.map((i) => at[i]![j]!)));
    rows.push([label, '', `${median(d).toFixed(3)} ms (p90 ${pct(sorted(d), 90).toFixed(3)})`]);
  }
  const saves = marks.map((ms) => ms.filter(([mark]) => mark === 'commit-saved').length);
  rows.push(['idle commit-index writes during the traced writes (leader, followers)', '', saves.join(', ')]);
  printTable(`One Raft commit traced: ${at[0]!.length} one-at-a-time writes of ${starts.length}, 3 processes (load average ${fmtLoad(os.loadavg())})`, rows);
}

// ---- encryption at rest: sealed vs plain -----------------------------------------------------------

interface CommitFigures {
  tp: number[];
  lat: number[];
  /** Each round's p50. */
  p50: number[];
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
  const sealed: CommitFigures = { tp: [], lat: [], p50: [] };
  const plain: CommitFigures = { tp: [], lat: [], p50: [] };
  const rounds = arg('rounds', 3);
  const loadBefore = os.loadavg();
  // interleaved, so a change in the machine's load hits both sides alike, and in turns which side goes first (the
  // first of a pair meets a fresher page cache and disk queue)
  for (let i = 0; i < rounds; i++) {
    const pair = [[plain, null], [sealed, undefined]] as const;
    for (const [fig, keys] of i % 2 === 0 ? pair : [pair[1], pair[0]]) {
      // Docker's tick (1 s): commits do not wait on ticks, and a loaded machine then loses no leader mid-run
      const r = await procCommit({ ...DOCKER, ...(keys === null ? { keys: null } : {}) });
      fig.tp.push(r.tp);
      fig.lat.push(...r.lat);
      fig.p50.push(median(r.lat));
    }
  }
  const loadAfter = os.loadavg();
  // the CPU the encryption adds per entry, measured alone (a loaded machine hides it in the cluster figures):
  // one seal per entry (format 1, the previous release) and one per append of 100 entries (format 2)
  const key = newDataKey();
  const entry = Buffer.alloc(400, 7);
  const context = Buffer.from('raft-entry:1000000');
  const perEntry = sealCostUs(() => seal(key, entry, context), 1);
  const hundred = Array.from({ length: 100 }, () => entry);
  const perBatch = sealCostUs(() => seal(key, encodeBatch(hundred), context), 100);
  const floor = await measureFloor();
  const spread = (xs: number[], f: (x: number) => string) => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
  const perS = (x: number) => `${Math.round(x).toLocaleString('en-US')} /s`;
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const diff = (a: number, b: number) => `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`;
  const rows: string[][] = [
    ['measure (3 processes)', 'plain (baseline)', 'encrypted (AES-256-GCM, one seal per append)', 'difference of medians', 'target'],
    [`commit throughput: median of ${rounds} rounds (min–max)`, spread(plain.tp, perS), spread(sealed.tp, perS), diff(median(plain.tp), median(sealed.tp)), 'within 10 %'],
    [`commit latency p50: median of ${rounds} rounds' p50 (min–max)`, spread(plain.p50, ms), spread(sealed.p50, ms), diff(median(plain.p50), median(sealed.p50)), 'within 10 %'],
    // each round's two runs share the machine's load of that moment: their ratio cancels it, the median of the ratios
    // is the effect with the drift between rounds taken out
    [`commit latency p50: median of the ${rounds} rounds' sealed/plain ratios (min–max)`, '1', spread(plain.p50.map((p, i) => sealed.p50[i]! / p), (x) => x.toFixed(3)), diff(1, median(plain.p50.map((p, i) => sealed.p50[i]! / p))), 'within 10 %'],
    [`commit throughput: median of the ${rounds} rounds' sealed/plain ratios (min–max)`, '1', spread(plain.tp.map((t, i) => sealed.tp[i]! / t), (x) => x.toFixed(3)), diff(1, median(plain.tp.map((t, i) => sealed.tp[i]! / t))), 'within 10 %'],
    ['commit latency p50 / p99, all rounds pooled', `${ms(pct(sorted(plain.lat), 50))} / ${ms(pct(sorted(plain.lat), 99))}`, `${ms(pct(sorted(sealed.lat), 50))} / ${ms(pct(sorted(sealed.lat), 99))}`, diff(pct(sorted(plain.lat), 50), pct(sorted(sealed.lat), 50)), ''],
    ['sealing, CPU per 400-byte entry (one thread)', '–', `${perBatch.toFixed(2)} µs in a 100-entry append; ${perEntry.toFixed(1)} µs sealed alone`, '', ''],
    ...floorRows(floor, 5, 2),
  ];
  printTable(
    `Shoal Raft at rest, sealed vs plain: 3 processes, loopback mTLS gRPC, log with fdatasync (${os.cpus().length} CPUs; load average ${fmtLoad(loadBefore)} before, ${fmtLoad(loadAfter)} after; ${rounds} interleaved rounds)`,
    rows,
  );
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => pct(sorted(xs), 50);
const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');

/** Microseconds of CPU per entry for `fn`, which seals `perCall` entries. */
function sealCostUs(fn: () => void, perCall: number): number {
  for (let i = 0; i < 2000; i++) fn();
  const n = Math.max(200, Math.round(50_000 / perCall));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - t0) * 1000) / (n * perCall);
}

// ---- the floor a commit stands on ------------------------------------------------------------------

interface Floor {
  fdatasync: number[];
  lmdbCommit: number[];
  rtt: number[];
}

/**
 * What one commit cannot go below on this machine, measured in the same run: the leader's and a
 * follower's durable writes run in parallel, so the floor is one durable write plus one loopback
 * round trip. Measured: a 400-byte write into a preallocated file and its fdatasync (what the log's
 * segment files pay, wal.ts), one lmdb transaction of that record with its fsyncs (what the log paid
 * in lmdb, before 2026-12-05), and a TCP round trip of 400 bytes on 127.0.0.1 (without TLS and gRPC
 * framing).
 */
async function measureFloor(n = 400): Promise<Floor> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-raftfloor-'));
  const f: Floor = { fdatasync: [], lmdbCommit: [], rtt: [] };
  try {
    const fd = fs.openSync(path.join(dir, 'wal'), 'w+');
    const rec = Buffer.alloc(400, 1);
    fs.writeSync(fd, Buffer.alloc(rec.length * n));
    fs.fdatasyncSync(fd);
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      fs.writeSync(fd, rec, 0, rec.length, i * rec.length);
      fs.fdatasyncSync(fd);
      f.fdatasync.push(performance.now() - t0);
    }
    fs.closeSync(fd);
    const { open } = await import('lmdb');
    const root = open({ path: path.join(dir, 'floor.lmdb'), compression: false, overlappingSync: false });
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      root.transactionSync(() => void root.put(i, rec));
      f.lmdbCommit.push(performance.now() - t0);
    }
    await root.close();
    const net = await import('node:net');
    const server = net.createServer((s) => s.on('data', (d) => s.write(d)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sock = net.connect((server.address() as { port: number }).port, '127.0.0.1');
    sock.setNoDelay(true);
    await new Promise((r) => sock.once('connect', r));
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      let got = 0;
      await new Promise<void>((r) => {
        const on = (d: Buffer) => {
          got += d.length;
          if (got < rec.length) return;
          sock.off('data', on);
          r();
        };
        sock.on('data', on);
        sock.write(rec);
      });
      f.rtt.push(performance.now() - t0);
    }
    sock.destroy();
    server.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return f;
}

/** Rows of `width` cells, the figure in cell `at`. */
function floorRows(f: Floor, width: number, at: number): string[][] {
  const q = (xs: number[]) => `${median(xs).toFixed(3)} ms (p90 ${pct(sorted(xs), 90).toFixed(3)})`;
  const row = (label: string, v: string) => Array.from({ length: width }, (_, i) => (i === 0 ? label : i === at ? v : ''));
  return [
    row('floor: a 400-byte record written into a preallocated file + fdatasync, p50', q(f.fdatasync)),
    row('floor: one lmdb commit of a 400-byte record with fsync (the log before), p50', q(f.lmdbCommit)),
    row('floor: loopback TCP round trip of 400 bytes, p50', q(f.rtt)),
    row('floor: one durable write + one round trip (fdatasync / lmdb)', `${(median(f.fdatasync) + median(f.rtt)).toFixed(3)} / ${(median(f.lmdbCommit) + median(f.rtt)).toFixed(3)} ms`),
  ];
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
  if (mode === 'single') return runSingle();
  const proc = mode === 'inproc' ? undefined : await runProc();
  const inproc = mode === 'proc' ? undefined : await runInproc();
  const floor = await measureFloor();
  const cols: [string, Results | undefined][] = [
    ['3 processes', proc],
    ['1 process', inproc],
  ];
  const shown = cols.filter(([, r]) => r);
  const cell = (f: (r: Results) => string) => shown.map(([, r]) => f(r!));
  const lat = (r: Results) => [...r.lat].sort((a, b) => a - b);
  const rows: string[][] = [
    ['measure', ...shown.map(([n]) => n), 'target'],
    ['commit throughput (concurrent proposals, group commit)', ...cell((r) => `${Math.round(r.tp).toLocaleString('en-US')} /s`), '≥ 25,000 /s (issue 16)'],
    ['commit latency p50 (one write at a time, store.update)', ...cell((r) => `${pct(lat(r), 50).toFixed(2)} ms`), '≤ 1 ms (issue 16)'],
    ['commit latency p99', ...cell((r) => `${pct(lat(r), 99).toFixed(2)} ms`), ''],
    [`leader failover, tick ${FAST.tickMs} ms / election ${FAST.electionTick} (median, min–max)`, ...cell((r) => fmtFailover(r.fast)), '< 2 s'],
    [`leader failover, Docker defaults tick 1 s / election 10 (median, min–max)`, ...cell((r) => fmtFailover(r.def)), 'beat Docker 10.1–15.5 s'],
    ...floorRows(floor, shown.length + 2, 1),
  ];
  printTable(`Shoal Raft: 3 managers, loopback mTLS gRPC, ${process.argv.includes('--no-fsync') ? 'the log WITHOUT fdatasync (3-process run)' : 'log with fdatasync'} (${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; failover: ${arg('reps', 5)} / ${arg('default-reps', 3)} runs)`, rows);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
