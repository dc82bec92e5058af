// Issue #2 benchmark: the realswarm workload (../shared/realswarm/bench.py, docker-py against the
// Engine API) run against a Shoal daemon, printed beside real Docker Swarm's figures measured on
// this machine (../shared/realswarm/results.json, labels single-default and single-fast).
//
//   eval "$(bash scripts/ci-engine.sh start)" && npm run build && node dist/bench/single-node.js
//
// Options:
//   --runtime docker|process   default: docker when SHOAL_TEST_ENGINE is set, else process
//   --profile default|fast|both
//                              default: the service spec leaves StopGracePeriod/RestartPolicy unset;
//                              fast: stop grace 0 and restart delay 0 (Swarm's "fast" run). Default both.
//   --fast                     same as --profile fast
//   --reps N                   repetitions per case (default 3, as for Swarm's figures)
//   --only B1,B2,B4,B5         cases of the default profile (fast runs B2,B4 of them: what Swarm's fast run has)
//   --out FILE                 where to write the combined JSON (default: a new temp dir)
//   --no-floor                 skip the engine floor measurement (docker runtime)
//
// Results (bench.py's raw output and the table as JSON) go to a temp dir, printed at the end;
// the realswarm directory is only read.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineClient } from '../src/engine';
import { TestDaemon, freePort } from '../test/harness/daemon';

const ROOT = path.resolve(__dirname, '..', '..');
const SHARED = process.env.SHOAL_REALSWARM_DIR ?? path.resolve(ROOT, '..', 'shared', 'realswarm');

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

type Summary = { min: number | null; median: number | null; max: number | null; n: number; p90?: number; runs?: number[] };
type Results = Record<string, Record<string, unknown>>;
type Profile = 'default' | 'fast';

/** One line of the comparison table. Times in seconds, B5 in ms. */
export interface Row {
  profile: Profile;
  bench: string;
  case: string;
  unit: 's' | 'ms';
  shoal: Summary;
  swarm?: Summary;
  /** Which Swarm run the figure comes from, when not the same profile. */
  swarmNote?: string;
}

/** Checks what single-node needs; returns the reason it cannot run, or undefined. */
export function prerequisites(runtime: 'docker' | 'process'): string | undefined {
  if (!fs.existsSync(path.join(SHARED, 'bench.py'))) return `no realswarm workload at ${SHARED}/bench.py (set SHOAL_REALSWARM_DIR)`;
  const py = spawnSync('python3', ['-c', 'import docker'], { encoding: 'utf8' });
  if (py.status !== 0) return 'python3 with docker-py (python3-docker) is needed to run bench.py';
  if (spawnSync('docker', ['--version']).status !== 0) return 'the docker CLI is needed (swarm init)';
  if (runtime === 'docker' && !process.env.SHOAL_TEST_ENGINE) return 'docker runtime needs an engine: eval "$(bash scripts/ci-engine.sh start)"';
  return undefined;
}

async function main(): Promise<void> {
  const engine = process.env.SHOAL_TEST_ENGINE;
  const runtime = (arg('runtime') ?? (engine ? 'docker' : 'process')) as 'docker' | 'process';
  if (runtime !== 'docker' && runtime !== 'process') throw new Error(`--runtime docker|process, not ${runtime}`);
  const profileArg = process.argv.includes('--fast') ? 'fast' : (arg('profile', 'both') as string);
  const profiles: Profile[] = profileArg === 'both' ? ['default', 'fast'] : [profileArg as Profile];
  for (const p of profiles) if (p !== 'default' && p !== 'fast') throw new Error(`--profile default|fast|both, not ${p}`);
  const only = arg('only', 'B1,B2,B4,B5')!;
  const reps = arg('reps', '3')!;
  const why = prerequisites(runtime);
  if (why) throw new Error(`single-node bench cannot run: ${why}`);

  const image = runtime === 'docker' ? (process.env.SHOAL_TEST_IMAGE ?? 'shoal-busybox:test') : 'busybox';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-'));
  const rawOut = path.join(dir, 'bench-py-results.json');
  const out = arg('out') ?? path.join(dir, `single-node-${runtime}.json`);
  const load0 = os.loadavg();
  const started = new Date().toISOString();

  let floor: Summary | undefined;
  if (runtime === 'docker' && !process.argv.includes('--no-floor')) floor = await engineFloor(engine!, image, 50, 3);

  const d = new TestDaemon({ runtime, engine: runtime === 'docker' ? engine : undefined, hostname: 'bench' });
  await d.start();
  const ours: Record<Profile, Results> = { default: {}, fast: {} };
  try {
    d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`]);
    for (const profile of profiles) {
      const cases = profile === 'default' ? only : only.split(',').filter((b) => b === 'B2' || b === 'B4' || b === 'B3').join(',');
      if (!cases) continue;
      const label = `shoal-${runtime}-${profile}`;
      const args = [path.join(SHARED, 'bench.py'), '--host', d.host, '--env', '/dev/null', '--only', cases, '--reps', reps, '--label', label, '--out', rawOut, '--image', image];
      if (profile === 'fast') args.push('--stop-grace', '0', '--restart-delay', '0');
      // process runtime: no engine behind the daemon, so B4 kills the task's process itself
      if (runtime === 'process') args.push('--kill-container-cmd', `${process.execPath} ${path.join(__dirname, 'kill-task.js')} ${d.sock} {container}`);
      console.error(`\n=== single-node: ${runtime} runtime, ${profile} profile: ${cases} (reps ${reps}, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})`);
      const r = spawnSync('python3', args, { stdio: ['ignore', 'inherit', 'inherit'], timeout: 45 * 60_000 });
      if (r.status !== 0) throw new Error(`bench.py exited ${r.status ?? r.signal}`);
      ours[profile] = JSON.parse(fs.readFileSync(rawOut, 'utf8'))[label].results as Results;
    }
  } finally {
    await d.cleanup();
  }

  const swarmAll = JSON.parse(fs.readFileSync(path.join(SHARED, 'results.json'), 'utf8')) as Record<string, { results: Results }>;
  const rows: Row[] = [];
  for (const profile of profiles) rows.push(...tableRows(profile, ours[profile], swarmAll));
  const load1 = os.loadavg();
  const text = formatTable(rows, runtime, { floor, load0, load1 });
  console.log(text);
  fs.writeFileSync(out, JSON.stringify({ started, runtime, profiles, reps: Number(reps), loadavg: { start: load0, end: load1 }, engineFloor50: floor, rows, raw: ours }, null, 1));
  fs.writeFileSync(out.replace(/\.json$/, '') + '.md', text + '\n');
  console.log(`\nresults: ${out} (bench.py raw output: ${rawOut})`);
}

const BENCH_ORDER = ['B1', 'B2', 'B3', 'B4', 'B5'];

function isSummary(v: unknown): v is Summary {
  return !!v && typeof v === 'object' && 'median' in v && 'n' in v;
}

/** The rows of one profile: every measured case with a median, plus the sub-timings worth showing. */
export function tableRows(profile: Profile, ours: Results, swarmAll: Record<string, { results: Results }>): Row[] {
  const swarmSame = swarmAll[`single-${profile}`]?.results ?? {};
  const swarmDefault = swarmAll['single-default']?.results ?? {};
  const rows: Row[] = [];
  for (const b of BENCH_ORDER) {
    const cases = ours[b];
    if (!cases) continue;
    for (const [k, v] of Object.entries(cases)) {
      if (isSummary(v) && typeof v.median === 'number') {
        let swarm = swarmSame[b]?.[k];
        let swarmNote: string | undefined;
        if (!isSummary(swarm) && profile === 'fast' && isSummary(swarmDefault[b]?.[k])) {
          swarm = swarmDefault[b]![k];
          swarmNote = 'default run';
        }
        rows.push({ profile, bench: b, case: k, unit: b === 'B5' ? 'ms' : 's', shoal: v, swarm: isSummary(swarm) ? swarm : undefined, swarmNote });
      }
      // sub-timings: POST of B1, B4's "old task seen failed"
      if (v && typeof v === 'object') {
        for (const [sk, label] of [
          ['post_s', 'POST /services/create'],
          ['old_task_not_running_s', 'old task seen failed'],
        ] as const) {
          const sub = (v as Record<string, unknown>)[sk];
          if (!isSummary(sub) || typeof sub.median !== 'number') continue;
          const sw = (swarmSame[b]?.[k] as Record<string, unknown> | undefined)?.[sk];
          rows.push({ profile, bench: b, case: `${k}: ${label}`, unit: 's', shoal: sub, swarm: isSummary(sw) ? sw : undefined });
        }
      }
    }
  }
  return rows;
}

function fmt(x: number | null | undefined, unit: 's' | 'ms'): string {
  if (x === null || x === undefined) return '–';
  return unit === 'ms' ? x.toFixed(2) : x.toFixed(3);
}

export function formatTable(rows: Row[], runtime: string, ctx: { floor?: Summary; load0: number[]; load1: number[] }): string {
  const lines: string[] = [];
  const head = ['profile', 'bench', 'case', 'unit', `shoal (${runtime}) median`, 'shoal min – max', 'swarm median', 'shoal / swarm'];
  const table: string[][] = [head];
  for (const r of rows) {
    const ratio = r.swarm && typeof r.swarm.median === 'number' && r.swarm.median > 0 && typeof r.shoal.median === 'number' ? (r.shoal.median / r.swarm.median).toFixed(2) : '–';
    table.push([
      r.profile,
      r.bench,
      r.case,
      r.unit,
      fmt(r.shoal.median, r.unit),
      `${fmt(r.shoal.min, r.unit)} – ${fmt(r.shoal.max, r.unit)}`,
      r.swarm ? fmt(r.swarm.median, r.unit) + (r.swarmNote ? ` (${r.swarmNote})` : '') : '–',
      ratio,
    ]);
  }
  const w = head.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  lines.push('', `Shoal (${runtime} runtime) vs real Docker Swarm 20.10, single node, same bench.py workload`);
  lines.push(`load average at start ${ctx.load0.map((x) => x.toFixed(2)).join(' ')}, at end ${ctx.load1.map((x) => x.toFixed(2)).join(' ')} (Swarm's runs: 1-minute load ≈ 1)`);
  if (ctx.floor) lines.push(`engine floor: create+start of 50 containers straight on the engine, no orchestration: median ${fmt(ctx.floor.median, 's')} s (${fmt(ctx.floor.min, 's')} – ${fmt(ctx.floor.max, 's')})`);
  lines.push('');
  for (const [i, r] of table.entries()) {
    lines.push('| ' + r.map((c, j) => c.padEnd(w[j]!)).join(' | ') + ' |');
    if (i === 0) lines.push('|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|');
  }
  return lines.join('\n');
}

/**
 * What the engine alone needs to create and start `n` containers at once (no orchestration):
 * the floor under B1's 50-replica time on this machine at this moment.
 */
async function engineFloor(host: string, image: string, n: number, reps: number): Promise<Summary> {
  const eng = new EngineClient({ host });
  const runs: number[] = [];
  try {
    for (let r = 0; r < reps; r++) {
      const ids: string[] = [];
      const t0 = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const c = await eng.containerCreate(
            { Image: image, Entrypoint: ['sleep'], Cmd: ['86400'], Labels: { 'shoal.bench': 'floor' }, HostConfig: { RestartPolicy: { Name: 'no' } } },
            `shoal-bench-floor-${process.pid}-${r}-${i}`,
          );
          ids.push(c.Id);
          await eng.containerStart(c.Id);
        }),
      );
      runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
      await Promise.all(ids.map((id) => eng.containerRemove(id, { force: true }).catch(() => undefined)));
    }
  } finally {
    await eng.close();
  }
  const s = [...runs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]!, n: s.length, runs };
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
