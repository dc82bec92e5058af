// Issue #4/#16 benchmark: node failure (B6b) on a multi-node Shoal cluster (1 manager + 2 workers on
// 127.0.0.10–12, process runtime) and, IN THE SAME RUN, on real Docker Swarm of the same shape
// (3 simulated hosts from the shared realswarm up.sh, one dockerd each, `swarm.sh 1`: 1 manager +
// 2 workers), with the same bench.py B6b for Swarm (kill -9 of a worker's dockerd).
//
//   npm run build && node dist/bench/multinode.js [--reps 3] [--replicas 10] [--heartbeat 5s] [--no-swarm]
//
// Cases, each with the default restart delay (5 s) and with --restart-delay 0:
//   kill -9    the worker's daemon is killed: its connection drops (Shoal marks it Down once no new
//              stream opened within the dispatcher's 1 s disconnect grace)
//   partition  the worker's RPC traffic to the manager is silently dropped (test fault injector):
//              only missed heartbeats can tell (3 × period + 0.5 s); bench.py has no such case for Swarm
// Measured from the fault to: the node Down on the manager, and all replicas running on other nodes.
// When real Swarm cannot come up here (not root, no dockerd, --no-swarm), its column says "n/a (why)".
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { RealSwarmHosts, loadText, realSwarmUnavailable, runBenchPy, benchPyUnavailable, type Summary } from './realswarm';
import { TestCluster, type ClusterNode } from '../test/harness/cluster';
import { sleep } from '../test/harness/daemon';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const REPS = Number(arg('reps', '3'));
const REPLICAS = Number(arg('replicas', '10'));
const HEARTBEAT = arg('heartbeat', '5s');
const WORKERS = 2;

const fmt = (xs: number[]) => {
  if (xs.length === 0) return 'n/a';
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0]!.toFixed(2)} / ${s[Math.floor(s.length / 2)]!.toFixed(2)} / ${s[s.length - 1]!.toFixed(2)}`;
};

async function trial(c: TestCluster, fault: 'kill' | 'partition', delay0: boolean): Promise<{ down: number; running: number }> {
  const m = c.manager;
  const svc = `b6-${Date.now().toString(36)}`;
  m.dockerOk(['service', 'create', '--detach', '--name', svc, '--replicas', String(REPLICAS), '--stop-grace-period', '1s', ...(delay0 ? ['--restart-delay', '0s'] : []), 'busybox', 'sleep', '100000']);
  const deadline = Date.now() + 60_000;
  while ((await c.running(svc)).length < REPLICAS) {
    if (Date.now() > deadline) throw new Error('service did not start');
    await sleep(100);
  }
  const tasks = await c.running(svc);
  const victim = c.workers.find((w) => tasks.some((t) => t.NodeID === w.nodeId)) as ClusterNode;
  const t0 = Date.now();
  if (fault === 'kill') c.kill9(victim);
  else c.partition(victim, [c.manager.ip]);
  let down = NaN;
  let running = NaN;
  const end = Date.now() + 90_000;
  while (Date.now() < end && (Number.isNaN(down) || Number.isNaN(running))) {
    if (Number.isNaN(down) && (await c.nodeList()).find((n) => n.ID === victim.nodeId)?.Status.State === 'down') down = (Date.now() - t0) / 1000;
    if (Number.isNaN(running)) {
      const r = await c.running(svc);
      if (r.length === REPLICAS && r.every((t) => t.NodeID !== victim.nodeId)) running = (Date.now() - t0) / 1000;
    }
    await sleep(50);
  }
  // Put the node back (its stale tasks get shut down) and clear the service.
  if (fault === 'kill') await c.restart(victim);
  else c.heal(victim);
  await c.waitNodeState(victim, 'ready', 30_000);
  m.dockerOk(['service', 'rm', svc]);
  const gone = Date.now() + 30_000;
  while ((await c.tasks()).length > 0 && Date.now() < gone) await sleep(100);
  return { down, running };
}

/** Swarm's B6b in this run: node Down and all running elsewhere, per restart-delay profile. */
async function swarmB6b(): Promise<{ rows: Record<string, { down?: Summary; running?: Summary }>; why?: string }> {
  const why = process.argv.includes('--no-swarm') ? '--no-swarm' : (realSwarmUnavailable() ?? benchPyUnavailable());
  if (why) return { rows: {}, why };
  if (HEARTBEAT !== '5s') return { rows: {}, why: 'Swarm is run with its default 5 s heartbeat only' };
  let rs: RealSwarmHosts | undefined;
  const rows: Record<string, { down?: Summary; running?: Summary }> = {};
  try {
    console.error(`\n=== multinode: real Swarm, ${1 + WORKERS} hosts (load ${loadText(os.loadavg())})`);
    rs = RealSwarmHosts.up(1 + WORKERS, 'm');
    rs.formSwarm(1);
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-')), 'swarm-b6.json');
    for (const delay0 of [false, true]) {
      const r = runBenchPy(`swarm-b6b-${delay0 ? 'delay0' : 'default'}`, out, [
        '--host', rs.hosts[0]!.sock, '--env', rs.env, '--only', 'B6', '--b6-parts', 'b', '--reps', String(REPS), '--b6-replicas', String(REPLICAS),
        ...(delay0 ? ['--restart-delay', '0'] : []),
      ]);
      const b = (r.B6 as { b_node_failure?: Summary & { node_down_s?: Summary }; error?: string } | undefined)?.b_node_failure;
      if (!b) throw new Error(`bench.py B6b gave no result: ${JSON.stringify(r.B6).slice(0, 200)}`);
      rows[`kill -9, ${delay0 ? 'restart delay 0' : 'default delay'}`] = { down: b.node_down_s, running: b };
    }
    return { rows };
  } catch (e) {
    return { rows, why: `real Swarm failed in this run: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    rs?.down();
  }
}

const fmtSummary = (s: Summary | undefined) => (s && typeof s.median === 'number' ? `${s.min!.toFixed(2)} / ${s.median.toFixed(2)} / ${s.max!.toFixed(2)}` : 'n/a');

async function main(): Promise<void> {
  const load0 = os.loadavg();
  const c = new TestCluster({ workers: WORKERS, heartbeat: HEARTBEAT === '5s' ? undefined : HEARTBEAT, hostPrefix: 'bench' });
  const rows: { name: string; down: number[]; running: number[] }[] = [];
  try {
    await c.start();
    for (const fault of ['kill', 'partition'] as const) {
      for (const delay0 of [false, true]) {
        const name = `${fault === 'kill' ? 'kill -9' : 'partition'}, ${delay0 ? 'restart delay 0' : 'default delay'}`;
        const row = { name, down: [] as number[], running: [] as number[] };
        for (let i = 0; i < REPS; i++) {
          const r = await trial(c, fault, delay0);
          process.stderr.write(`${name} #${i + 1}: down ${r.down}s, all running elsewhere ${r.running}s\n`);
          if (!Number.isNaN(r.down)) row.down.push(r.down);
          if (!Number.isNaN(r.running)) row.running.push(r.running);
        }
        rows.push(row);
      }
    }
  } finally {
    await c.cleanup();
  }
  const swarm = await swarmB6b();
  const load1 = os.loadavg();
  console.log(`\nNode failure (B6b), ${REPLICAS} replicas, 1 manager + ${WORKERS} workers, heartbeat ${HEARTBEAT}; seconds min / median / max over ${REPS} runs, both sides in this run`);
  console.log(`Shoal: process runtime, daemons on loopback addresses. Swarm: dockerd 20.10 per simulated host (realswarm up.sh), bench.py B6b (kill -9 of a worker's dockerd).`);
  if (swarm.why) console.log(`Swarm column: n/a (${swarm.why})`);
  console.log(`load average at start ${loadText(load0)}, at end ${loadText(load1)} (2 shared CPUs; other sessions' work counts in it)`);
  console.log('| case | Shoal: node Down | Shoal: all running elsewhere | Swarm: node Down | Swarm: all running elsewhere | Shoal / Swarm (all running, median) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    const z = swarm.rows[r.name];
    const a = fmt(r.running);
    const ratio = z?.running?.median && r.running.length ? (median(r.running) / z.running.median).toFixed(2) : '–';
    const na = r.name.startsWith('partition') ? 'not measured (bench.py has no partition case)' : 'n/a';
    console.log(`| ${r.name} | ${fmt(r.down)} | ${a} | ${z ? fmtSummary(z.down) : na} | ${z ? fmtSummary(z.running) : na} | ${ratio} |`);
  }
  console.log('\nTarget (issue 16): kill -9 with restart delay 0, all running elsewhere ≤ 0.33× Swarm.');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

void main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
