// Issue #3 benchmark: three Raft managers in ONE process (each with its own MemoryStore, lmdb
// directory with fsync, and mutual-TLS gRPC server on 127.0.0.1). All three share this process's
// event loop and CPU, so the figures are conservative for three real hosts.
//   npm run build && node dist/bench/raft.js [--proposals 30000] [--window 2000] [--latency 2000] [--reps 5] [--default-reps 3]
import type { Change } from '../src/store';
import { RaftTestCluster, nodeObj, type RaftTestNode, type Tuning } from '../test/harness/raft-nodes';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const FAST: Tuning = { tickMs: 100, electionTick: 10, heartbeatTick: 1 };
const DOCKER: Tuning = { tickMs: 1000, electionTick: 10, heartbeatTick: 1 };

async function cluster(t: Tuning): Promise<{ cl: RaftTestCluster; leader: RaftTestNode }> {
  const cl = new RaftTestCluster(t);
  await cl.init();
  const a = await cl.bootstrap();
  await cl.join(a);
  await cl.join(a);
  const leader = await cl.waitLeader(120_000);
  return { cl, leader };
}

const change = (id: string): Change[] => [{ action: 'create', kind: 'node', object: nodeObj(id) }];
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function throughput(leader: RaftTestNode, total: number, window: number): Promise<number> {
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

async function latency(leader: RaftTestNode, n: number): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await leader.store.update((tx) => tx.create('node', nodeObj(`lat-${i}`)));
    xs.push(performance.now() - t0);
  }
  return xs.sort((a, b) => a - b);
}

/** kill -9 of the leader (consensus dropped, port closed) to the first write committed on a survivor. */
async function failoverLoop(t: Tuning): Promise<number> {
  const { cl, leader } = await cluster(t);
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

async function main(): Promise<void> {
  const rows: string[][] = [['measure', 'result', 'target']];
  {
    const { cl, leader } = await cluster(FAST);
    try {
      await throughput(leader, 2000, 200); // warm-up
      const tp = await throughput(leader, arg('proposals', 30000), arg('window', 2000));
      rows.push(['commit throughput (concurrent proposals, group commit)', `${Math.round(tp).toLocaleString('en-US')} /s`, '≥ 10,000 /s']);
      const lat = await latency(leader, arg('latency', 2000));
      rows.push(['commit latency p50 (one write at a time, store.update)', `${pct(lat, 50).toFixed(2)} ms`, '< 2 ms']);
      rows.push(['commit latency p99', `${pct(lat, 99).toFixed(2)} ms`, '']);
    } finally {
      await cl.destroy();
    }
  }
  const fast: number[] = [];
  for (let i = 0; i < arg('reps', 5); i++) fast.push(await failoverLoop(FAST));
  fast.sort((a, b) => a - b);
  rows.push([`leader failover, tick ${FAST.tickMs} ms / election ${FAST.electionTick} (median, min–max of ${fast.length})`, `${(pct(fast, 50) / 1000).toFixed(2)} s (${(fast[0]! / 1000).toFixed(2)}–${(fast[fast.length - 1]! / 1000).toFixed(2)})`, '< 2 s']);
  const def: number[] = [];
  for (let i = 0; i < arg('default-reps', 3); i++) def.push(await failoverLoop(DOCKER));
  def.sort((a, b) => a - b);
  rows.push([`leader failover, Docker defaults tick 1 s / election 10 (median, min–max of ${def.length})`, `${(pct(def, 50) / 1000).toFixed(2)} s (${(def[0]! / 1000).toFixed(2)}–${(def[def.length - 1]! / 1000).toFixed(2)})`, 'beat Docker 10.1–15.5 s']);

  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log('\nShoal Raft: 3 managers in one process, loopback mTLS gRPC, lmdb with fsync');
  for (const [i, r] of rows.entries()) {
    console.log('| ' + r.map((c, j) => c.padEnd(w[j]!)).join(' | ') + ' |');
    if (i === 0) console.log('|' + w.map((x) => '-'.repeat(x + 2)).join('|') + '|');
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
