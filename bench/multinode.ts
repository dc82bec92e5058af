// Issue #4 benchmark: node failure on a multi-node Shoal cluster (1 manager + 3 workers on
// 127.0.0.10–13, process runtime), beside real Swarm's B6b measured on this machine
// (../shared/realswarm/RESULTS.md: 10 replicas, kill -9 of a worker's dockerd).
//
//   npm run build && node dist/bench/multinode.js [--reps 3] [--replicas 10] [--heartbeat 5s]
//
// Cases, each with the default restart delay (5 s) and with --restart-delay 0:
//   kill -9    the worker's daemon is killed: its connection drops (Shoal marks it down after one
//              heartbeat period without a new session: the dispatcher's disconnect grace)
//   partition  the worker's RPC traffic to the manager is silently dropped (test fault injector):
//              only missed heartbeats can tell (3 × period + 0.5 s)
// Measured from the fault to: the node Down on the manager, and all replicas running on other nodes.
import { TestCluster, type ClusterNode } from '../test/harness/cluster';
import { sleep } from '../test/harness/daemon';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const REPS = Number(arg('reps', '3'));
const REPLICAS = Number(arg('replicas', '10'));
const HEARTBEAT = arg('heartbeat', '5s');

// Real Swarm, B6b (RESULTS.md), seconds min / median / max.
const SWARM: Record<string, { down: string; running: string }> = {
  'kill -9, default delay': { down: '10.36 / 11.86 / 13.46', running: '15.90 / 17.41 / 19.01' },
  'kill -9, restart delay 0': { down: '10.57 / 11.76 / 12.66', running: '11.20 / 12.35 / 13.30' },
  'partition, default delay': { down: '–', running: '–' },
  'partition, restart delay 0': { down: '–', running: '–' },
};

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

async function main(): Promise<void> {
  const c = new TestCluster({ workers: 3, heartbeat: HEARTBEAT === '5s' ? undefined : HEARTBEAT, hostPrefix: 'bench' });
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
  console.log(`\nNode failure, ${REPLICAS} replicas, 1 manager + 3 workers, heartbeat ${HEARTBEAT}; seconds min / median / max over ${REPS} runs`);
  console.log('| case | Shoal: node Down | Shoal: all running elsewhere | Swarm B6b: node Down | Swarm B6b: all running elsewhere |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${fmt(r.down)} | ${fmt(r.running)} | ${SWARM[r.name]?.down ?? '–'} | ${SWARM[r.name]?.running ?? '–'} |`);
  console.log('\nSwarm\'s figures: 3 managers + 2 workers, kill -9 of a worker dockerd (no partition case measured).');
}

void main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
