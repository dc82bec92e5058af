// Issue 15: the control plane at scale. Real manager daemons (1 or 3, Raft with fsync, process
// runtime, drained) and N simulated nodes (test/harness/sim-nodes.ts: each joins with its own
// certificate and holds a real mTLS dispatcher session; tasks run in memory) in a few child processes.
//
//   npm run build && node dist/bench/scale.js --nodes 1000 --tasks 100000 --managers 3
//
// Options: --nodes N (1000) --tasks T (100000: the big service; the first one is T/10) --managers 1|3 (3)
// --procs P (fleet processes; default one per 250 nodes, at most 4) --start-ms MS (a task's start, 0)
// --raft-tick-ms MS (the daemon's default, Docker's 1000: elections after 10 s) --heartbeat 5s --cpu-prof DIR (V8 profiles of the managers, written at the end)
// --heap-snapshot DIR (heap snapshots of the leader, with its smaps_rollup, idle and once the big service runs)
// --manager-node-args "FLAGS" (flags for node itself in each manager; default none: node's own young generation, scale17; e.g. "--max-semi-space-size=32")
// --manager-env "K=V …" (the managers' extra environment; default the tuning's malloc half "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072", "" for none)
// --manager-flags "FLAGS" (extra `shoal daemon` flags for each manager, e.g. "--heap-trim=false")
// --fleet-node-args "FLAGS" (flags for node in the simulated fleets; default "--max-semi-space-size=32", "" for none)
// --skip a,b (phases: small, global, big, settle, api, kill, failover, down) --settle-s S (quiet before the settled memory reading, 30) --calls N (API calls per endpoint, 200).
// Prints one table per phase and, as the last line, the headline:
//   scale: N nodes, T tasks, converged in S s (P placements/s), failover F s, manager RSS R MiB
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ScaleCluster } from '../test/harness/scale-cluster';
import { apiRequest, sleep, waitFor } from '../test/harness/daemon';
import type { ClusterNode } from '../test/harness/cluster';
import { parseExposition, sampleValue } from '../src/testing/prometheus';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  // present with a value: that value, "" included (the flag options' "none")
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

const NODES = Number(arg('nodes', '1000'));
const TASKS = Number(arg('tasks', '100000'));
const MANAGERS = Number(arg('managers', '3')) === 1 ? 1 : 3;
const PROCS = process.argv.includes('--procs') ? Number(arg('procs', '1')) : undefined;
const START_MS = Number(arg('start-ms', '0'));
const TICK = process.argv.includes('--raft-tick-ms') ? Number(arg('raft-tick-ms', '1000')) : undefined;
const HEARTBEAT = arg('heartbeat', '5s');
const CALLS = Number(arg('calls', '200'));
const PROF = process.argv.includes('--cpu-prof') ? path.resolve(arg('cpu-prof', 'scale-prof')) : undefined;
const HEAP = process.argv.includes('--heap-snapshot') ? path.resolve(arg('heap-snapshot', 'scale-heap')) : undefined;
// Node flags for the managers: none by default (node's own young generation). 32 MiB semi-spaces took the leader's
// CPU a task from 0.71 to 0.46–0.6 ms when a placement made more garbage (performance.md, scale6); with today's code
// they save 2–4 % of it and cost 30–90 MiB of RSS (scale17), so they are no longer the default.
const MANAGER_NODE_ARGS = arg('manager-node-args', '').split(' ').filter(Boolean);
// The large-cluster tuning README names for memory: glibc's malloc with a fixed mmap threshold, so buffers over 128 KiB
// go back to the system when freed instead of raising the threshold and staying in the heap (performance.md,
// scale10: the settled leader 651 → 557 MiB at 100,000 tasks), for 13–17 % more leader CPU a task here, where page faults
// are dear (scale11: three times the page faults; 80.5 s without it against 90.2 s with it at 1,000 × 100,000); "" runs glibc's defaults.
/** Extra `shoal daemon` flags for each manager (`--manager-flags "--heap-trim=false"`). */
const MANAGER_FLAGS = arg('manager-flags', '').split(' ').filter(Boolean);
const MANAGER_ENV = Object.fromEntries(
  arg('manager-env', 'GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072')
    .split(' ')
    .filter((kv) => kv.indexOf('=') > 0)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
// Flags for node in the simulated fleets' processes ("" for node's defaults). The load generator shares the two
// cores with the managers, so it gets their young-generation tuning: 4–6 % less fleet CPU a task and a 3–5 %
// faster create at 300 × 30,000 in two pairs of runs (performance.md, scale11).
const FLEET_NODE_ARGS = arg('fleet-node-args', '--max-semi-space-size=32').split(' ').filter(Boolean);
const SKIP = new Set(arg('skip', '').split(',').filter(Boolean));
/** Seconds of quiet before the settled memory reading (phase `settle`). */
const SETTLE_S = Number(arg('settle-s', '30'));
const METRICS_PORT = 30000 + Math.floor(Math.random() * 9000);

const rows: string[][] = [];
const row = (phase: string, what: string, value: string, note = '') => {
  rows.push([phase, what, value, note]);
  console.log(`| ${phase} | ${what} | ${value} | ${note} |`);
};
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const spec = (name: string, mode: Record<string, unknown>) => ({
  Name: name,
  TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '100000'] }, RestartPolicy: { Condition: 'any', Delay: 0 } },
  Mode: mode,
});

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Bytes of the Raft snapshot files and of the rest of the Raft state (the log) under a manager's data dir. */
function raftSizes(m: ClusterNode): { snapshots: number; log: number } {
  let snapshots = 0;
  let logBytes = 0;
  const walk = (d: string, inRaft: boolean, inSnap: boolean) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, inRaft || e.name === 'raft', inSnap || e.name === 'snapshots');
      else if (inSnap) snapshots += fs.statSync(p).size;
      else if (inRaft) logBytes += fs.statSync(p).size;
    }
  };
  walk(m.daemon.dataDir, false, false);
  return { snapshots, log: logBytes };
}

type MetricReader = (name: string, labels?: Record<string, string>) => number | undefined;

/** One scrape of a manager's metrics, read as often as needed (every value undefined when it does not answer). */
async function scrape(m: ClusterNode): Promise<MetricReader> {
  try {
    const r = await fetch(`http://${m.ip}:${METRICS_PORT}/metrics`);
    const families = parseExposition(await r.text());
    return (name, labels = {}) => sampleValue(families, name, labels);
  } catch {
    return () => undefined;
  }
}

async function metric(m: ClusterNode, name: string): Promise<number | undefined> {
  return (await scrape(m))(name);
}

/** The leader's counters of store write transactions, Raft proposals and missed heartbeats (0 when the metrics do not answer). */
async function writeCounts(m: ClusterNode): Promise<{ writes: number; proposals: number; misses: number }> {
  const metrics = await scrape(m);
  return {
    writes: metrics('swarm_store_write_tx_latency_seconds_count') ?? 0,
    proposals: metrics('swarm_raft_transaction_latency_seconds_count') ?? 0,
    misses: metrics('shoal_dispatcher_heartbeat_misses_total') ?? 0,
  };
}

async function timeCalls(m: ClusterNode, p: string): Promise<{ p50: number; p99: number; bytes: number }> {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    const r = await m.daemon.api<unknown[]>('GET', p);
    ms.push(performance.now() - t);
    if (r.status !== 200) throw new Error(`GET ${p}: ${r.status}`);
    bytes = JSON.stringify(r.body).length;
  }
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), bytes };
}

/** V8's heap spaces (committed / used MiB) and node's external memory, from a manager's /metrics (prom-client's default metrics). */
async function v8Memory(m: ClusterNode): Promise<string> {
  try {
    const text = await (await fetch(`http://${m.ip}:${METRICS_PORT}/metrics`)).text();
    const by = (name: string) => {
      const out = new Map<string, number>();
      for (const x of text.matchAll(new RegExp(`^${name}\\{space="(\\w+)"\\} (\\S+)`, 'gm'))) out.set(x[1]!, Number(x[2]) / 2 ** 20);
      return out;
    };
    const total = by('nodejs_heap_space_size_total_bytes');
    const used = by('nodejs_heap_space_size_used_bytes');
    const external = Number(/^nodejs_external_memory_bytes (\S+)/m.exec(text)?.[1] ?? NaN) / 2 ** 20;
    const spaces = [...total].filter(([, t]) => t >= 1).map(([k, t]) => `${k} ${t.toFixed(0)}/${(used.get(k) ?? 0).toFixed(0)}`);
    return `${spaces.join(', ')}; external ${external.toFixed(0)}`;
  } catch (e) {
    return `no metrics (${(e as Error).message})`;
  }
}

/**
 * Writes a heap snapshot of a manager and records beside it its smaps_rollup before and after (writing one
 * collects garbage first), with V8's heap spaces from its metrics at both moments.
 */
async function heapSnapshot(sc: ScaleCluster, m: ClusterNode, when: string): Promise<void> {
  const before = ScaleCluster.smapsRollup(m);
  const v8Before = await v8Memory(m);
  const t0 = Date.now();
  const file = await sc.heapSnapshot(m);
  const took = (Date.now() - t0) / 1000;
  const after = ScaleCluster.smapsRollup(m);
  const v8After = await v8Memory(m);
  fs.writeFileSync(file.replace(/\.heapsnapshot$/, '.memory.json'), JSON.stringify({ before, after, v8Before, v8After }, null, 1));
  const mib = (r: Record<string, number>, k: string) => ((r[k] ?? 0) / 1024).toFixed(0);
  row('memory', `${m.hostname} ${when}: smaps_rollup Rss / Anonymous, before → after the heap snapshot's GC`, `${mib(before, 'Rss')} / ${mib(before, 'Anonymous')} → ${mib(after, 'Rss')} / ${mib(after, 'Anonymous')} MiB; ${path.basename(file)} (${took.toFixed(1)} s)`, load());
  row('memory', `${m.hostname} ${when}: V8 heap spaces committed/used MiB, before`, v8Before, load());
  row('memory', `${m.hostname} ${when}: V8 heap spaces committed/used MiB, after`, v8After, load());
}

async function main(): Promise<void> {
  if (PROF) fs.mkdirSync(PROF, { recursive: true });
  if (HEAP) fs.mkdirSync(HEAP, { recursive: true });
  log(`scale bench: ${NODES} nodes, ${TASKS} tasks, ${MANAGERS} managers, raft tick ${TICK ?? 'default (1000)'} ms, heartbeat ${HEARTBEAT}, manager node flags "${MANAGER_NODE_ARGS.join(' ')}", manager env "${Object.entries(MANAGER_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}", fleet node flags "${FLEET_NODE_ARGS.join(' ')}", load ${load()}`);
  const sc = new ScaleCluster({
    nodes: NODES,
    managers: MANAGERS,
    procs: PROCS,
    raftTickMs: TICK,
    heartbeat: HEARTBEAT,
    startMs: START_MS,
    cpuProfDir: PROF,
    heapSnapshotDir: HEAP,
    managerArgs: (ip) => ['--metrics-addr', `${ip}:${METRICS_PORT}`, ...MANAGER_FLAGS],
    // the managers as shipped: bin/shoal.js, no source maps, no test fault injector
    asShipped: true,
    managerNodeArgs: MANAGER_NODE_ARGS,
    managerEnv: MANAGER_ENV,
    fleetNodeArgs: FLEET_NODE_ARGS,
    log,
  });
  // Each manager process's peak RSS (VmHWM) and the phase it was last raised in, read every 500 ms: a
  // raise is put down to the phase running when it is seen, up to half a second after it happened.
  let phase = 'setup';
  let peakRss = 0;
  const peaks = new Map<number, { host: string; peak: number; phase: string }>();
  const samplePeaks = () => {
    for (const m of sc.managers) {
      const pid = m.daemon.proc?.pid;
      if (m.killed || pid === undefined) continue;
      const peak = ScaleCluster.rssMiB(m).peak;
      const known = peaks.get(pid);
      if (!known || peak > known.peak) peaks.set(pid, { host: m.hostname, peak, phase });
    }
  };
  const rssTimer = setInterval(samplePeaks, 500);
  let converged = NaN;
  let placements = NaN;
  let failover = NaN;
  console.log(`\nScale bench: ${NODES} simulated nodes, ${MANAGERS} managers (Raft tick ${TICK ?? 1000} ms, fsync, node flags "${MANAGER_NODE_ARGS.join(' ')}"), heartbeat ${HEARTBEAT}, task start ${START_MS} ms`);
  console.log(`load average at start: ${load()}`);
  console.log('| phase | measure | value | load (1/5/15 min) |');
  console.log('|---|---|---|---|');
  try {
    const { joinSeconds } = await sc.start();
    row('setup', `${NODES} nodes joined (CSR + certificate each) and Ready`, `${joinSeconds.toFixed(1)} s`, load());
    const leader0 = (await sc.leader())!;
    row('setup', 'leader RSS, idle with all nodes in session', `${ScaleCluster.rssMiB(leader0).now.toFixed(0)} MiB`, load());
    {
      // what the sessions alone cost (heartbeats, keepalives): nothing else runs, the bench does not poll
      const idleSeconds = 10;
      const c0 = await sc.cpuByRole();
      await sleep(idleSeconds * 1000);
      const c1 = await sc.cpuByRole();
      const pct = (k: keyof typeof c0) => `${(((c1[k] - c0[k]) / idleSeconds) * 100).toFixed(0)} %`;
      row('setup', `CPU idle with all nodes in session (${idleSeconds} s), share of one core: leader / other managers / fleet`, `${pct('leader')} / ${pct('followers')} / ${pct('fleet')}`, load());
    }
    if (HEAP) await heapSnapshot(sc, leader0, `idle with ${NODES} nodes`);
    const probe = await sc.createService(spec('probe', { Replicated: { Replicas: 10 } }));
    await sc.waitCounts(probe, (c) => c.running === 10, 'probe running', Date.now());

    if (!SKIP.has('small')) {
      phase = 'small';
      const n = Math.max(1, Math.floor(TASKS / 10));
      let t0 = Date.now();
      const id = await sc.createService(spec('small', { Replicated: { Replicas: n } }));
      const s = await sc.waitCounts(id, (c) => c.running === n, `${n} running`, t0);
      row('replicated', `${n} replicas: create → all running`, `${s.toFixed(2)} s (${(n / s).toFixed(0)} placements/s)`, load());
      t0 = Date.now();
      await sc.scale(id, 0);
      const d = await sc.waitCounts(id, (c) => c.running === 0, 'small at 0', t0);
      row('replicated', `${n} → 0`, `${d.toFixed(2)} s`, load());
      await sc.removeService(id);
    }

    if (!SKIP.has('global')) {
      phase = 'global';
      const t0 = Date.now();
      const id = await sc.createService(spec('global', { Global: {} }));
      const s = await sc.waitCounts(id, (c) => c.running === NODES, `global on ${NODES} nodes`, t0);
      row('global', `global service on ${NODES} nodes: create → all running`, `${s.toFixed(2)} s`, load());
      await sc.removeService(id);
    }

    let big = '';
    if (!SKIP.has('big')) {
      phase = 'create';
      const before = await writeCounts((await sc.leader())!);
      const cpu0 = await sc.cpuByRole();
      const t0 = Date.now();
      big = await sc.createService(spec('big', { Replicated: { Replicas: TASKS } }));
      converged = await sc.waitCounts(big, (c) => c.running === TASKS, `${TASKS} running`, t0);
      placements = TASKS / converged;
      row('replicated', `${TASKS} replicas: create → all running`, `${converged.toFixed(2)} s (${placements.toFixed(0)} placements/s)`, load());
      const leader = (await sc.leader())!;
      const after = await writeCounts(leader);
      const cpu1 = await sc.cpuByRole();
      const perTask = (k: 'leader' | 'followers' | 'fleet') => (((cpu1[k] - cpu0[k]) * 1000) / TASKS).toFixed(3);
      row(
        'replicated',
        'CPU during the create, ms a task: leader / other managers / simulated fleet',
        `${perTask('leader')} / ${perTask('followers')} / ${perTask('fleet')} (leader ${(cpu1.leader - cpu0.leader).toFixed(1)} s of ${converged.toFixed(1)} s)`,
        load(),
      );
      row(
        'replicated',
        'leader during the create: store write transactions / Raft proposals / heartbeat misses',
        `${after.writes - before.writes} / ${after.proposals - before.proposals} / ${after.misses - before.misses} (${((after.writes - before.writes) / TASKS).toFixed(3)} writes a task)`,
        load(),
      );
      const r = ScaleCluster.rssMiB(leader);
      row('memory', `leader RSS at ${TASKS} tasks (now / peak so far; now: own memory + mapped files)`, `${r.now.toFixed(0)} / ${r.peak.toFixed(0)} MiB (${r.anon.toFixed(0)} + ${r.file.toFixed(0)})`, load());
      if (HEAP) await heapSnapshot(sc, leader, `at ${TASKS} tasks`);
      if (!SKIP.has('settle')) {
        phase = 'settle';
        // The reading above comes right after the burst: V8's heap still holds the garbage of 100,000
        // placements, which its memory reducer gives back once allocation has stayed low for a while.
        await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
        const s = ScaleCluster.rssMiB(leader);
        const metrics = await scrape(leader);
        const mib = (name: string, labels?: Record<string, string>) => ((metrics(name, labels) ?? NaN) / 2 ** 20).toFixed(0);
        const heap = `V8 heap used ${mib('nodejs_heap_size_used_bytes')} of ${mib('nodejs_heap_size_total_bytes')} MiB, young generation ${mib('nodejs_heap_space_size_total_bytes', { space: 'new' })} MiB, external ${mib('nodejs_external_memory_bytes')} MiB`;
        row('memory', `leader RSS at ${TASKS} tasks, ${SETTLE_S} s after convergence with nothing to do`, `${s.now.toFixed(0)} MiB (${s.anon.toFixed(0)} + ${s.file.toFixed(0)}), peak so far ${s.peak.toFixed(0)}; ${heap}`, load());
      }
    }

    if (!SKIP.has('api')) {
      phase = 'api';
      const leader = (await sc.leader())!;
      const paths: [string, string][] = [
        ['GET /tasks?filters={"service":["probe"]} (10 of them)', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['probe'] }))}`],
        [`GET /nodes (${NODES + MANAGERS})`, '/v1.47/nodes'],
        ['GET /services', '/v1.47/services'],
      ];
      for (const [what, p] of paths) {
        const r = await timeCalls(leader, p);
        row('api', `${what}, leader, ${CALLS} calls`, `p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms (${(r.bytes / 1024).toFixed(0)} KiB)`, load());
      }
    }

    {
      const leader = (await sc.leader())!;
      const sizes = raftSizes(leader);
      row('raft', 'leader: Raft log on disk / snapshot files', `${(sizes.log / 2 ** 20).toFixed(1)} MiB / ${(sizes.snapshots / 2 ** 20).toFixed(1)} MiB`, load());
      const sum = await metric(leader, 'swarm_raft_snapshot_latency_seconds_sum');
      const count = await metric(leader, 'swarm_raft_snapshot_latency_seconds_count');
      if (sum !== undefined && count) row('raft', `leader: snapshot create + write (mean of ${count})`, `${((sum / count) * 1000).toFixed(0)} ms`, load());
    }

    if (!SKIP.has('kill') && big) {
      phase = 'node failure';
      const k = Math.max(1, Math.floor(NODES / 10));
      const t0 = Date.now();
      const killed = new Set(await sc.killNodes(k));
      await waitFor(async () => (await sc.nodes()).filter((n) => killed.has(n.ID) && n.Status.State === 'down').length === killed.size, 120_000, `${k} nodes down`, 250);
      const down = (Date.now() - t0) / 1000;
      const s = await sc.waitCounts(big, (c) => c.running === TASKS, `${TASKS} running again`, t0);
      row('node failure', `${k} nodes killed → all down`, `${down.toFixed(2)} s`, load());
      row('node failure', `${k} nodes killed → ${TASKS} running again elsewhere`, `${s.toFixed(2)} s`, load());
    }

    if (!SKIP.has('failover') && MANAGERS === 3) {
      phase = 'failover';
      const leader = (await sc.leader())!;
      const [survivor, other] = sc.managers.filter((m) => m !== leader);
      const t0 = Date.now();
      sc.cluster.kill9(leader);
      // Writes go to both survivors at once, each to its own services. The one elected takes its writes
      // itself; the other forwards them to it over a connection between two managers that had both been
      // followers, and answers once it has applied the write. Which survivor is elected is up to the
      // election, so a figure from one survivor alone is one case or the other from run to run.
      const firstWrite = async (m: ClusterNode, tag: string): Promise<number> => {
        for (let i = 0; Date.now() - t0 < 120_000; i++) {
          const r = await apiRequest(m.daemon.sock, 'POST', '/v1.47/services/create', spec(`fo-${tag}-${i}`, { Replicated: { Replicas: 0 } }), 5_000).catch(() => ({ status: 0 }));
          if (r.status === 201) return (Date.now() - t0) / 1000;
          await sleep(20);
        }
        return NaN;
      };
      const [onFirst, onOther] = await Promise.all([firstWrite(survivor!, 'a'), firstWrite(other!, 'b')]);
      const elected = await sc.leader(survivor);
      const [onLeader, forwarded] = elected === survivor ? [onFirst, onOther] : [onOther, onFirst];
      // the headline's figure, as before: the writes to the first survivor (either case)
      failover = onFirst;
      const secs = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)} s` : 'no write in 120 s');
      row('failover', 'kill -9 of the leader → first accepted write', `${secs(onFirst)} (${elected === survivor ? 'on the new leader' : 'forwarded by a follower'})`, load());
      row('failover', 'kill -9 → first accepted write: on the new leader / forwarded by the other survivor', `${secs(onLeader)} / ${secs(forwarded)}`, load());
      // a phase that does not converge is a figure too: the row says so and the run goes on
      const inSession = await waitFor(
        async () => {
          const st = await sc.fleetStats();
          return st.connected === st.alive;
        },
        120_000,
        'every live node in session again',
        100,
      ).then(
        () => `${((Date.now() - t0) / 1000).toFixed(2)} s`,
        async () => `not reached in 120 s (${(await sc.fleetStats()).connected} in session)`,
      );
      row('failover', 'kill -9 → every live node in session with the new leader', inSession, load());
      if (big) {
        const s = await sc.waitCounts(big, (c) => c.running === TASKS, `${TASKS} running after failover`, t0, 300_000).then(
          (x) => `${x.toFixed(2)} s`,
          () => 'not reached in 300 s',
        );
        row('failover', `kill -9 → new leader reports ${TASKS} running`, s, load());
      }
      const st = await sc.fleetStats();
      row('failover', 'tasks running on the nodes after failover (duplicates)', `${st.running} (${st.duplicates})`, load());
      // restore: the killed manager starts again from its snapshot + log
      const r0 = Date.now();
      phase = 'restart';
      await sc.cluster.restart(leader);
      const ping = (Date.now() - r0) / 1000;
      if (big) await sc.waitCounts(big, (c) => c.running === TASKS, 'restarted manager sees the tasks', r0).catch(() => undefined);
      const counted = await sc.counts(big || probe, leader).catch(() => undefined);
      row('raft', 'restart of a manager: start → /_ping / → its store has every task', `${ping.toFixed(2)} s / ${((Date.now() - r0) / 1000).toFixed(2)} s (${counted?.running ?? '?'} running)`, load());
    }

    if (!SKIP.has('down') && big) {
      phase = 'scale-down';
      const t0 = Date.now();
      await sc.scale(big, 0);
      const s = await sc.waitCounts(big, (c) => c.running === 0, `${TASKS} → 0`, t0);
      row('replicated', `${TASKS} → 0`, `${s.toFixed(2)} s`, load());
    }
    samplePeaks();
    peakRss = Math.max(0, ...[...peaks.values()].map((p) => p.peak));
    const each = [...peaks.values()].map((p) => `${p.host} ${p.peak.toFixed(0)} in ${p.phase}`);
    row('memory', 'peak RSS of any manager over the run (each manager process in start order, and the phase its peak was reached in)', `${peakRss.toFixed(0)} MiB (${each.join(' / ')})`, load());
  } finally {
    clearInterval(rssTimer);
    await sc.stop();
  }
  console.log(`load average at end: ${load()}`);
  if (PROF) console.log(`CPU profiles of the managers: ${PROF}`);
  const f = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  console.log(`scale: ${NODES} nodes, ${TASKS} tasks, converged in ${f(converged, 1)} s (${f(placements, 0)} placements/s), failover ${f(failover, 2)} s, manager RSS ${peakRss.toFixed(0)} MiB`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
