// Issue #2 benchmark: the realswarm workload (../shared/realswarm/bench.py, docker-py against the
// Engine API) run against a Shoal daemon, printed beside real Docker Swarm's figures measured on
// this machine (../shared/realswarm/results.json). Needs a Docker Engine for the docker runtime:
//   eval "$(bash scripts/ci-engine.sh start)" && npm run build && node dist/bench/single-node.js
// Options: --runtime docker|process (default docker when SHOAL_TEST_ENGINE is set), --reps N,
//          --only B1,B2,B4,B5, --fast (stop grace 0, restart delay 0, compared with Swarm's "fast" run)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon } from '../test/harness/daemon';

const SHARED = path.resolve(__dirname, '..', '..', '..', 'shared', 'realswarm');

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

type Summary = { min: number; median: number; max: number; n: number; p90?: number };

async function main(): Promise<void> {
  const engine = process.env.SHOAL_TEST_ENGINE;
  const runtime = (arg('runtime') ?? (engine ? 'docker' : 'process')) as 'docker' | 'process';
  const fast = process.argv.includes('--fast');
  const only = arg('only', runtime === 'docker' ? 'B1,B2,B4,B5' : 'B1,B2,B5')!;
  const reps = arg('reps', '3')!;
  const image = runtime === 'docker' ? (process.env.SHOAL_TEST_IMAGE ?? 'shoal-busybox:test') : 'busybox';
  const d = new TestDaemon({ runtime, engine: runtime === 'docker' ? engine : undefined, hostname: 'bench' });
  await d.start();
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-')), 'results.json');
  try {
    d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    const args = [path.join(SHARED, 'bench.py'), '--host', d.host, '--env', '/dev/null', '--only', only, '--reps', reps, '--label', 'shoal', '--out', out, '--image', image];
    if (fast) args.push('--stop-grace', '0', '--restart-delay', '0');
    const r = spawnSync('python3', args, { stdio: ['ignore', 'inherit', 'inherit'], timeout: 30 * 60_000 });
    if (r.status !== 0) throw new Error(`bench.py exited ${r.status}`);
    const ours = JSON.parse(fs.readFileSync(out, 'utf8')).shoal.results;
    const swarm = JSON.parse(fs.readFileSync(path.join(SHARED, 'results.json'), 'utf8'))[fast ? 'single-fast' : 'single-default'].results;
    printTable(ours, swarm, runtime, fast);
  } finally {
    await d.cleanup();
  }
}

function printTable(ours: Record<string, Record<string, Summary>>, swarm: Record<string, Record<string, Summary>>, runtime: string, fast: boolean): void {
  const rows: string[][] = [['bench', 'case', `shoal (${runtime}) median s`, 'swarm median s', 'shoal / swarm']];
  for (const b of Object.keys(ours).sort()) {
    for (const [k, v] of Object.entries(ours[b]!)) {
      if (!v || typeof v !== 'object' || typeof (v as Summary).median !== 'number') continue;
      const s = swarm[b]?.[k];
      const ms = b === 'B5';
      const fmt = (x: number | undefined) => (x === undefined ? '–' : ms ? `${x.toFixed(2)} ms` : x.toFixed(3));
      rows.push([b, k, fmt(v.median), fmt(s?.median), s?.median ? (v.median / s.median).toFixed(2) : '–']);
    }
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(`\nShoal vs real Docker Swarm, single node${fast ? ' (fast profile: stop grace 0, restart delay 0)' : ''}`);
  for (const [i, r] of rows.entries()) {
    console.log('| ' + r.map((c, j) => c.padEnd(w[j]!)).join(' | ') + ' |');
    if (i === 0) console.log('|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
