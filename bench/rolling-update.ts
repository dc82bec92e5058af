// Issue #5 benchmark (B3): rolling update of 20 replicas, parallelism 5, no delay, stop-first, monitor
// 1 ms. The realswarm workload (../shared/realswarm/bench.py --only B3, docker-py against the Engine
// API) runs against a Shoal daemon and is printed beside real Docker Swarm's figures measured on this
// machine (../shared/realswarm/results.json: 49.6 s default profile, 10.0 s with stop grace 0 /
// restart delay 0).
//   npm run build && node dist/bench/rolling-update.js [--runtime docker|process] [--reps N] [--profile default|fast|both]
// The runtime defaults to docker when SHOAL_TEST_ENGINE is set (eval "$(bash scripts/ci-engine.sh start)").
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, freePort } from '../test/harness/daemon';

const SHARED = path.resolve(__dirname, '..', '..', '..', 'shared', 'realswarm');

type Summary = { min: number | null; median: number | null; max: number | null; n: number };
interface B3Result {
  min: number | null;
  median: number | null;
  max: number | null;
  n: number;
  update_status_completed_s?: Summary;
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : def;
}

async function runProfile(runtime: 'docker' | 'process', fast: boolean, reps: string): Promise<B3Result> {
  const engine = process.env.SHOAL_TEST_ENGINE;
  const image = runtime === 'docker' ? (process.env.SHOAL_TEST_IMAGE ?? 'shoal-busybox:test') : 'busybox';
  const d = new TestDaemon({ runtime, engine: runtime === 'docker' ? engine : undefined, hostname: 'bench-b3' });
  await d.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-b3-'));
  const out = path.join(dir, 'results.json');
  try {
    d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`]);
    const args = [path.join(SHARED, 'bench.py'), '--host', d.host, '--env', '/dev/null', '--only', 'B3', '--reps', reps, '--label', 'shoal', '--out', out, '--image', image];
    if (fast) args.push('--stop-grace', '0', '--restart-delay', '0');
    const r = spawnSync('python3', args, { stdio: ['ignore', 'inherit', 'inherit'], timeout: 30 * 60_000 });
    if (r.status !== 0) throw new Error(`bench.py exited ${r.status}`);
    const results = JSON.parse(fs.readFileSync(out, 'utf8')).shoal.results;
    return results.B3['20 replicas'] as B3Result;
  } finally {
    await d.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const runtime = arg('runtime', process.env.SHOAL_TEST_ENGINE ? 'docker' : 'process') as 'docker' | 'process';
  const reps = arg('reps', '3');
  const profile = arg('profile', 'both');
  const swarmAll = JSON.parse(fs.readFileSync(path.join(SHARED, 'results.json'), 'utf8'));
  const rows: string[][] = [['profile', `shoal (${runtime}): all new running, median s`, 'shoal: UpdateStatus completed, median s', 'swarm median s', 'shoal / swarm']];
  const fmt = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(3));
  for (const fast of profile === 'both' ? [false, true] : [profile === 'fast']) {
    const ours = await runProfile(runtime, fast, reps);
    const swarm = swarmAll[fast ? 'single-fast' : 'single-default'].results.B3['20 replicas'] as B3Result;
    const ratio = ours.median && swarm.median ? (ours.median / swarm.median).toFixed(2) : '–';
    rows.push([fast ? 'fast (stop grace 0, restart delay 0)' : 'default', fmt(ours.median), fmt(ours.update_status_completed_s?.median), fmt(swarm.median), ratio]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(`\nB3 rolling update, 20 replicas, parallelism 5, delay 0, stop-first, monitor 1 ms (${reps} reps): Shoal vs real Docker Swarm`);
  for (const [i, r] of rows.entries()) {
    console.log('| ' + r.map((c, j) => c.padEnd(w[j]!)).join(' | ') + ' |');
    if (i === 0) console.log('|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
