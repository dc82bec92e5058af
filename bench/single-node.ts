// Issue #2/#16 benchmark: the realswarm workload (../shared/realswarm/bench.py, docker-py against the
// Engine API) run against a Shoal daemon and against real Docker Swarm IN THE SAME RUN, on the same
// kind of host: two simulated hosts from the shared realswarm up.sh (each its own network namespace
// and dockerd with bridge networking, busybox:local). Host 1's dockerd runs swarm mode; host 2's is the
// engine behind Shoal (a daemon with --engine pointing at it, run as bin/shoal.js runs it). Then case
// by case, Shoal then Swarm (bench.py --only that case), so that both columns of a row see the same
// machine load as nearly as a shared machine allows. Before each side's column of a case, the engine
// floor of that case on that side's engine, no orchestration:
//   - B1 and B2 (default profile): 50 bare container create+start at once (the floor of B1 n=50, and of
//     B2 50→100 with 50 running beside them, as there);
//   - B4 (fast): a kill + wait for the exit, then a create + start (B4's replacement);
//   - B2 (fast): n running containers stopped at once, by stop?t=0 and by kill + wait (B2's n→0).
// Ratios are only ever printed between the two columns of one run. When real Swarm cannot come up
// (not root, no dockerd, --no-swarm), Shoal runs on $SHOAL_TEST_ENGINE and Swarm's column says
// "n/a (why)". B7 adds memory: the Shoal daemon's RSS/USS against dockerd's in swarm mode.
//
//   npm run build && node dist/bench/single-node.js          (as root; see --help-like options below)
//
// Options:
//   --runtime docker|process   default docker when real Swarm hosts or SHOAL_TEST_ENGINE are available, else process
//                              (process runtime: no engine, so no Swarm column)
//   --profile default|fast|both
//                              default: the service spec leaves StopGracePeriod/RestartPolicy unset;
//                              fast: stop grace 0 and restart delay 0 (Swarm's "fast" run). Default both.
//   --fast                     same as --profile fast
//   --reps N                   repetitions per case (default 3)
//   --only B7,B1,B2,B4,B5      cases of the default profile (fast runs B2,B3,B4 of them)
//   --out FILE                 where to write the combined JSON (default: a new temp dir)
//   --no-floor                 skip the engine floor measurements
//   --no-swarm                 do not bring up real Swarm (Shoal on $SHOAL_TEST_ENGINE; Swarm column n/a)
//   --py "ARGS"                more bench.py arguments for both sides (e.g. "--b5-tasks 20 --b7-tasks 20")
//   --cpu-prof                 the Shoal daemon writes a V8 CPU profile (.cpuprofile) into the results dir
//   --daemon-node-args "FLAGS" node flags for the Shoal daemon (e.g. "--max-semi-space-size=16" to compare GC settings)
//
// Results (bench.py's raw output and the table as JSON) go to a temp dir, printed at the end;
// the realswarm directory is only read.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineClient } from '../src/engine';
import { TestDaemon, freePort, sleep } from '../test/harness/daemon';
import { RealSwarmHosts, benchPyUnavailable, loadText, realSwarmUnavailable, runBenchPy, summarize, type Results, type Summary } from './realswarm';

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

type Profile = 'default' | 'fast';
type Unit = 's' | 'ms' | 'MiB';

/** One line of the comparison table. Times in seconds, B5 in ms, B7 in MiB. */
export interface Row {
  profile: Profile;
  bench: string;
  case: string;
  unit: Unit;
  shoal?: Summary;
  swarm?: Summary;
}

/** The engine floors the cases are read against, each measured on the engine of the side it is compared with. */
export interface Floors {
  /**
   * 50 containers created and started at once, by case (B1, B2), measured on each side's engine just before that
   * side's column of the case: same engine state (Swarm's in swarm mode, Shoal's with its daemon up) and as near
   * in time as the run allows, since the machine's load moves the floor by 10 % and more within one run.
   */
  start?: Record<string, { shoal?: Summary; swarm?: Summary }>;
  /** B4's floor on each side's engine, just before its column: kill a running container and wait for its exit, then create and start one. */
  replace?: { shoal?: Summary; swarm?: Summary };
  /** B2's scale-down floors, by the number of containers stopped at once (n of n→0), on each side's engine just before its column. */
  stop?: Record<number, { shoal?: StopFloor; swarm?: StopFloor }>;
}

/**
 * What the engine alone needs to stop n running containers at once, both ways a task is stopped without
 * grace: `POST /containers/{id}/stop?t=0` (stop signal, then kill: Swarm's executor) and a SIGKILL followed by
 * waiting for the exit (Shoal's executor, executor/docker/controller.ts `shutdown(0)`).
 */
export interface StopFloor {
  stop?: Summary;
  kill?: Summary;
}

/** Checks what single-node needs; returns the reason it cannot run, or undefined. */
export function prerequisites(runtime: 'docker' | 'process'): string | undefined {
  const why = benchPyUnavailable();
  if (why) return why;
  if (runtime === 'docker' && !process.env.SHOAL_TEST_ENGINE && realSwarmUnavailable())
    return `docker runtime needs real Swarm hosts (${realSwarmUnavailable()}) or an engine: eval "$(bash scripts/ci-engine.sh start)"`;
  return undefined;
}

async function main(): Promise<void> {
  const noSwarm = process.argv.includes('--no-swarm');
  const runtime = (arg('runtime') ?? (process.env.SHOAL_TEST_ENGINE || !realSwarmUnavailable() ? 'docker' : 'process')) as 'docker' | 'process';
  if (runtime !== 'docker' && runtime !== 'process') throw new Error(`--runtime docker|process, not ${runtime}`);
  const profileArg = process.argv.includes('--fast') ? 'fast' : (arg('profile', 'both') as string);
  const profiles: Profile[] = profileArg === 'both' ? ['default', 'fast'] : [profileArg as Profile];
  for (const p of profiles) if (p !== 'default' && p !== 'fast') throw new Error(`--profile default|fast|both, not ${p}`);
  const only = arg('only', 'B7,B1,B2,B4,B5')!;
  const reps = arg('reps', '3')!;
  const withFloor = runtime === 'docker' && !process.argv.includes('--no-floor');

  // Real Swarm's host (1) and Shoal's engine (2): the same kind of host, side by side.
  let rs: RealSwarmHosts | undefined;
  let swarmWhy: string | undefined = runtime === 'process' ? 'process runtime: no engine, compare the docker runtime table' : noSwarm ? '--no-swarm' : realSwarmUnavailable();
  if (!swarmWhy) {
    try {
      console.error(`\n=== single-node: bringing up 2 realswarm hosts (load ${loadText(os.loadavg())})`);
      rs = RealSwarmHosts.up(2, 's');
    } catch (e) {
      swarmWhy = `realswarm up.sh failed: ${(e as Error).message.split('\n')[0]}`;
      console.error(swarmWhy);
    }
  }
  const why = rs ? benchPyUnavailable() : runtime === 'docker' && !process.env.SHOAL_TEST_ENGINE ? `no engine: ${swarmWhy}; or eval "$(bash scripts/ci-engine.sh start)"` : prerequisites(runtime);
  if (why) {
    rs?.down();
    throw new Error(`single-node bench cannot run: ${why}`);
  }
  const swarmHost = rs?.hosts[0];
  const engine = rs ? rs.hosts[1]!.sock : runtime === 'docker' ? process.env.SHOAL_TEST_ENGINE : undefined;
  const image = rs ? 'busybox:local' : runtime === 'docker' ? (process.env.SHOAL_TEST_IMAGE ?? 'shoal-busybox:test') : 'busybox';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-bench-'));
  const rawOut = path.join(dir, 'bench-py-results.json');
  const out = arg('out') ?? path.join(dir, `single-node-${runtime}.json`);
  const load0 = os.loadavg();
  const started = new Date().toISOString();
  const floors: Floors = {};
  const ours: Record<Profile, Results> = { default: {}, fast: {} };
  const theirs: Record<Profile, Results> = { default: {}, fast: {} };
  const casesOf = (profile: Profile) => (profile === 'default' ? only : only.split(',').filter((b) => b === 'B2' || b === 'B4' || b === 'B3').join(','));
  const pyExtra = (arg('py') ?? '').split(' ').filter(Boolean);
  const common = (profile: Profile) => ['--reps', reps, '--image', image, ...pyExtra, ...(profile === 'fast' ? ['--stop-grace', '0', '--restart-delay', '0'] : [])];
  // --cpu-prof: the daemon writes a V8 CPU profile into the results dir when it exits (SIGTERM at the end)
  const cpuProf = process.argv.includes('--cpu-prof') ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
  const daemonNodeArgs = (arg('daemon-node-args') ?? '').split(' ').filter(Boolean);
  const d = new TestDaemon({ runtime, engine, hostname: 'bench', nodeArgs: [...daemonNodeArgs, ...cpuProf], sourceMaps: false });
  try {
    if (rs && swarmHost) {
      try {
        rs.initSwarm(swarmHost);
      } catch (e) {
        swarmWhy = (e as Error).message.split('\n')[0];
      }
    }
    await d.start();
    d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`]);
    await sleep(5000); // as run-all.sh: let both fresh swarms settle before B7's idle figure
    // A case's floors, on one side's engine, just before that side's column of the case: the engine in the
    // state the case runs in (Swarm's in swarm mode, Shoal's with its daemon up), and the machine's load as
    // near to the column's as the run allows (it moves a floor by 10 % and more within one run).
    const floorsBefore = async (profile: Profile, b: string, side: 'shoal' | 'swarm', host: string) => {
      if (!withFloor) return;
      const whose = side === 'shoal' ? "Shoal's" : "Swarm's";
      const failed = (what: string) => (e: Error) => void console.error(`${what} on ${host} failed: ${e.message}`);
      if (profile === 'default' && (b === 'B1' || b === 'B2')) {
        console.error(`\n=== single-node: engine floor, 50 containers on ${whose} engine, before its ${b} column (load ${loadText(os.loadavg())})`);
        // B2's 50→100 starts its 50 beside 50 running ones: its floor does the same
        const s = await engineFloor(host, image, 50, 3, b === 'B2' ? 50 : 0).catch(failed('engine floor'));
        ((floors.start ??= {})[b] ??= {})[side] = s ?? undefined;
      }
      if (profile === 'fast' && b === 'B4') {
        console.error(`\n=== single-node: engine replace floor on ${whose} engine, before its B4 column (load ${loadText(os.loadavg())})`);
        (floors.replace ??= {})[side] = (await engineReplaceFloor(host, image, 5).catch(failed('engine replace floor'))) ?? undefined;
      }
      if (profile === 'fast' && b === 'B2') {
        // as many containers as each B2 n→0 stops (bench.py's B2 doubles each size first)
        for (const n of (pyArg(pyExtra, '--b2-sizes') ?? '10,50').split(',').map((x) => 2 * Number(x))) {
          console.error(`\n=== single-node: engine stop floor, ${n} containers on ${whose} engine, before its B2 column (load ${loadText(os.loadavg())})`);
          ((floors.stop ??= {})[n] ??= {})[side] = (await engineStopFloor(host, image, n, 3).catch(failed(`engine stop floor (${n})`))) ?? undefined;
        }
      }
    };
    for (const profile of profiles) {
      for (const b of casesOf(profile).split(',').filter(Boolean)) {
        const shoalArgs = ['--host', d.host, '--env', '/dev/null', '--only', b, '--mem-pid', `shoal=${d.proc!.pid}`, ...common(profile)];
        // process runtime: no engine behind the daemon, so B4 kills the task's process itself
        if (runtime === 'process') shoalArgs.push('--kill-container-cmd', `${process.execPath} ${path.join(__dirname, 'kill-task.js')} ${d.sock} {container}`);
        await floorsBefore(profile, b, 'shoal', engine!);
        console.error(`\n=== single-node: Shoal, ${runtime} runtime, ${profile} profile: ${b} (reps ${reps}, load ${loadText(os.loadavg())})`);
        Object.assign(ours[profile], pick(runBenchPy(`shoal-${runtime}-${profile}`, rawOut, shoalArgs), b));
        if (!rs || swarmWhy) continue;
        await floorsBefore(profile, b, 'swarm', swarmHost!.sock);
        console.error(`\n=== single-node: real Swarm, ${profile} profile: ${b} (reps ${reps}, load ${loadText(os.loadavg())})`);
        try {
          Object.assign(theirs[profile], pick(runBenchPy(`swarm-${profile}`, rawOut, ['--host', swarmHost!.sock, '--env', rs.env, '--only', b, ...common(profile)]), b));
        } catch (e) {
          swarmWhy = `real Swarm failed in this run: ${(e as Error).message.split('\n')[0]}`;
        }
      }
    }
  } finally {
    await d.cleanup();
    rs?.down();
  }

  const rows: Row[] = [];
  for (const profile of profiles) rows.push(...tableRows(profile, ours[profile], swarmWhy ? {} : theirs[profile], swarmHost?.name));
  const load1 = os.loadavg();
  const text = formatTable(rows, runtime, { floors, load0, load1, swarmWhy, engine: rs ? `realswarm hosts: Swarm on ${swarmHost!.name}, Shoal on ${rs.hosts[1]!.name}'s dockerd (dockerd 20.10, bridge networking)` : `${engine ?? 'none'}` });
  console.log(text);
  fs.writeFileSync(out, JSON.stringify({ started, runtime, profiles, reps: Number(reps), loadavg: { start: load0, end: load1 }, engineFloor50: floors.start, engineStopFloors: floors.stop, engineReplaceFloor: floors.replace, swarmWhy, rows, raw: { shoal: ours, swarm: theirs } }, null, 1));
  fs.writeFileSync(out.replace(/\.json$/, '') + '.md', text + '\n');
  console.log(`\nresults: ${out} (bench.py raw output: ${rawOut})`);
}

/** One case's entry of a bench.py result (the run was `--only` that case). */
const pick = (r: Results, b: string): Results => (r[b] ? { [b]: r[b]! } : {});

const BENCH_ORDER = ['B1', 'B2', 'B3', 'B4', 'B5'];

function isSummary(v: unknown): v is Summary {
  return !!v && typeof v === 'object' && 'median' in v && 'n' in v;
}

const SUBTIMINGS = [
  ['post_s', 'POST /services/create'],
  ['old_task_not_running_s', 'old task seen failed'],
] as const;

/** Flattens one side's bench.py results into case → summary (sub-timings as "<case>: <label>"). */
function casesOf(results: Results, b: string): Map<string, Summary> {
  const out = new Map<string, Summary>();
  for (const [k, v] of Object.entries(results[b] ?? {})) {
    if (isSummary(v) && typeof v.median === 'number') out.set(k, v);
    if (!v || typeof v !== 'object') continue;
    for (const [sk, label] of SUBTIMINGS) {
      const sub = (v as Record<string, unknown>)[sk];
      if (isSummary(sub) && typeof sub.median === 'number') out.set(`${k}: ${label}`, sub);
    }
  }
  return out;
}

/** B7: RSS and USS (MiB) of the Shoal daemon (`--mem-pid shoal=`) or of the swarm host's dockerd. */
function memoryCases(results: Results, who: 'shoal' | string): Map<string, Summary> {
  const out = new Map<string, Summary>();
  for (const [state, v] of Object.entries(results.B7 ?? {})) {
    const procs = (v as { procs?: Record<string, Record<string, number | null>> } | undefined)?.procs;
    const p = procs?.[who];
    if (!p) continue;
    const rss = who === 'shoal' ? p.rss : p.dockerd;
    const uss = who === 'shoal' ? p.uss : p.dockerd_uss;
    const label = (v as { label?: string }).label ?? state;
    if (typeof rss === 'number') out.set(`RSS ${label}`, summarize([rss / 1024]));
    if (typeof uss === 'number') out.set(`USS ${label}`, summarize([uss / 1024]));
  }
  return out;
}

/** The rows of one profile: every case either side measured, both columns from this run. */
export function tableRows(profile: Profile, ours: Results, theirs: Results, swarmHost?: string): Row[] {
  const rows: Row[] = [];
  for (const b of BENCH_ORDER) {
    const a = casesOf(ours, b);
    const z = casesOf(theirs, b);
    for (const k of new Set([...a.keys(), ...z.keys()])) {
      rows.push({ profile, bench: b, case: k, unit: b === 'B5' && !k.includes(':') ? 'ms' : 's', shoal: a.get(k), swarm: z.get(k) });
    }
  }
  const ma = memoryCases(ours, 'shoal');
  const mz = swarmHost ? memoryCases(theirs, swarmHost) : new Map<string, Summary>();
  for (const k of new Set([...ma.keys(), ...mz.keys()])) rows.push({ profile, bench: 'B7', case: k, unit: 'MiB', shoal: ma.get(k), swarm: mz.get(k) });
  return rows;
}

/** What bounds a case, and issue 16's target for it (ratio to Swarm, or to the engine floor). */
export function boundOf(r: Pick<Row, 'profile' | 'bench' | 'case'>): { bound: string; target?: { of: 'swarm' | 'floor' | 'MiB'; max: number } } {
  const { profile, bench, case: c } = r;
  const fast = profile === 'fast';
  if (c.endsWith('POST /services/create') && bench === 'B1') return { bound: 'API + 1 store write' };
  if (bench === 'B1') return { bound: 'engine: container starts', ...(c === 'n=50' ? { target: { of: 'floor', max: 1.05 } } : {}) };
  if (bench === 'B2' && c.endsWith('->0')) {
    if (!fast) return { bound: 'stop grace 10 s (sleep as PID 1 ignores SIGTERM)' };
    return { bound: 'engine: n stops at once (floor), then orchestration', target: { of: 'swarm', max: c === '20->0' ? 0.5 : 0.8 } };
  }
  if (bench === 'B2') return { bound: 'engine: container starts', ...(c === '50->100' ? { target: { of: 'floor', max: 1.05 } } : {}) };
  if (bench === 'B3') return { bound: fast ? 'orchestration + engine' : 'stop grace 10 s' };
  if (bench === 'B4' && c.includes('old task seen failed')) return { bound: 'noticing the exit' };
  if (bench === 'B4') return fast ? { bound: 'engine: exit, create, start (floor), then orchestration', target: { of: 'swarm', max: 0.5 } } : { bound: 'restart delay 5 s' };
  if (bench === 'B5' && (c.startsWith('POST') || c.startsWith('DELETE'))) return { bound: 'API + 1 durable store write', target: { of: 'swarm', max: 1 } };
  if (bench === 'B5') return { bound: 'API + docker-py' };
  if (bench === 'B7' && c === 'RSS idle') return { bound: 'memory', target: { of: 'MiB', max: 80 } };
  if (bench === 'B7') return { bound: 'memory', ...(c.startsWith('RSS') && !c.includes('after') ? { target: { of: 'swarm', max: 1 } } : {}) };
  return { bound: '' };
}

function fmt(x: number | null | undefined, unit: Unit): string {
  if (x === null || x === undefined) return '–';
  return unit === 's' ? x.toFixed(3) : unit === 'ms' ? x.toFixed(2) : x.toFixed(1);
}

const med = (s: Summary | undefined) => (s && typeof s.median === 'number' ? s.median : undefined);
const range = (s: Summary | undefined, unit: Unit) => (s ? (s.n > 1 ? `${fmt(s.median, unit)} (${fmt(s.min, unit)} – ${fmt(s.max, unit)})` : fmt(s.median, unit)) : '–');

export function formatTable(rows: Row[], runtime: string, ctx: { floors: Floors; load0: number[]; load1: number[]; swarmWhy?: string; engine: string }): string {
  const lines: string[] = [];
  const head = ['profile', 'bench', 'case', 'unit', 'Swarm median (min – max)', `Shoal (${runtime}) median (min – max)`, 'Shoal / Swarm', 'vs floor (Swarm / Shoal)', 'bound by', 'target'];
  const table: string[][] = [head];
  for (const r of rows) {
    const a = med(r.shoal);
    const z = med(r.swarm);
    const { bound, target } = boundOf(r);
    const ratio = a !== undefined && z !== undefined && z > 0 ? a / z : undefined;
    // 50 containers started at once: compare with the floor measured just before each side's column of the case
    const fz = med(ctx.floors.start?.[r.bench]?.swarm);
    const fa = med(ctx.floors.start?.[r.bench]?.shoal);
    // n→0 (fast): each side against its own engine's stop floor of n, the way that side stops (Swarm: stop?t=0, Shoal: kill)
    const down = r.profile === 'fast' && r.bench === 'B2' ? /^(\d+)->0$/.exec(r.case) : null;
    const replace = r.profile === 'fast' && r.bench === 'B4' && !r.case.includes(':') ? ctx.floors.replace : undefined;
    const sf = down ? ctx.floors.stop?.[Number(down[1])] : replace ? { swarm: { stop: replace.swarm }, shoal: { kill: replace.shoal } } : undefined;
    const sz = med(sf?.swarm?.stop);
    const sa = med(sf?.shoal?.kill);
    const floorCell =
      target?.of === 'floor'
        ? `${z !== undefined && fz ? (z / fz).toFixed(2) : '–'} / ${a !== undefined && fa ? (a / fa).toFixed(2) : '–'}`
        : sf
          ? `${z !== undefined && sz ? (z / sz).toFixed(2) : '–'} / ${a !== undefined && sa ? (a / sa).toFixed(2) : '–'}`
          : '';
    let targetCell = '';
    if (target) {
      const v = target.of === 'swarm' ? ratio : target.of === 'MiB' ? a : a !== undefined && fa ? a / fa : undefined;
      const what = target.of === 'MiB' ? `${target.max} MiB` : `${target.max}× ${target.of}`;
      targetCell = `≤ ${what}: ${v === undefined ? 'n/a' : v <= target.max ? 'met' : 'not met'}`;
    }
    table.push([r.profile, r.bench, r.case, r.unit, ctx.swarmWhy ? 'n/a' : range(r.swarm, r.unit), range(r.shoal, r.unit), ratio === undefined ? '–' : ratio.toFixed(2), floorCell, bound, targetCell]);
  }
  const w = head.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  lines.push('', `Shoal (${runtime} runtime) and real Docker Swarm, single node, same bench.py workload, same engine, same run`);
  lines.push(`engine: ${ctx.engine}`);
  if (ctx.swarmWhy) lines.push(`Swarm column: n/a (${ctx.swarmWhy}); no ratios against figures of another run are printed`);
  lines.push(`load average at start ${loadText(ctx.load0)}, at end ${loadText(ctx.load1)} (2 shared CPUs; other sessions' work counts in it)`);
  const f = (s?: Summary) => (s ? `median ${fmt(s.median, 's')} s (${fmt(s.min, 's')} – ${fmt(s.max, 's')})` : 'not measured');
  for (const [b, fl] of Object.entries(ctx.floors.start ?? {}))
    lines.push(`engine floor of ${b} (create+start of 50 containers at once straight on the engine${b === 'B2' ? ', beside 50 running' : ''}, just before each side's ${b} column): on Shoal's engine ${f(fl.shoal)}; on Swarm's ${f(fl.swarm)}`);
  if (ctx.floors.replace)
    lines.push(`engine replace floor (B4's floor column: kill a running container and wait for its exit, then create and start one, just before each side's B4 column): Shoal's engine ${f(ctx.floors.replace.shoal)}; Swarm's engine ${f(ctx.floors.replace.swarm)}`);
  for (const [n, sf] of Object.entries(ctx.floors.stop ?? {})) {
    lines.push(
      `engine stop floor (${n} running containers stopped at once straight on the engine, just before each side's B2 column; the n->0 rows' floor column divides by Swarm's stop?t=0 and Shoal's kill): ` +
        `Shoal's engine: stop?t=0 ${f(sf.shoal?.stop)}, kill+wait ${f(sf.shoal?.kill)}; Swarm's engine: stop?t=0 ${f(sf.swarm?.stop)}, kill+wait ${f(sf.swarm?.kill)}`,
    );
  }
  lines.push('');
  for (const [i, r] of table.entries()) {
    lines.push('| ' + r.map((c, j) => c.padEnd(w[j]!)).join(' | ') + ' |');
    if (i === 0) lines.push('|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|');
  }
  return lines.join('\n');
}

/**
 * What the engine alone needs to create and start `n` containers at once (no orchestration): the floor under
 * B1's 50-replica time on this machine at this moment. `running` containers of the same image are started
 * first and kept running while each rep is timed: B2's 50→100 starts its 50 beside the 50 it scaled up from.
 */
async function engineFloor(host: string, image: string, n: number, reps: number, running = 0): Promise<Summary> {
  // generous: 50 creates at once on a loaded 2-CPU machine can keep one waiting for a minute
  const eng = new EngineClient({ host, timeoutMs: 300_000 });
  const runs: number[] = [];
  const startAll = async (count: number, name: (i: number) => string, ids: string[]) =>
    Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const c = await eng.containerCreate({ Image: image, Entrypoint: ['sleep'], Cmd: ['86400'], Labels: { 'shoal.bench': 'floor' }, HostConfig: { RestartPolicy: { Name: 'no' } } }, name(i));
        ids.push(c.Id);
        await eng.containerStart(c.Id);
      }),
    );
  const base: string[] = [];
  try {
    await startAll(running, (i) => `shoal-bench-floor-${process.pid}-base-${i}`, base);
    for (let r = 0; r < reps; r++) {
      const ids: string[] = [];
      const t0 = process.hrtime.bigint();
      await startAll(n, (i) => `shoal-bench-floor-${process.pid}-${r}-${i}`, ids);
      runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
      await Promise.all(ids.map((id) => eng.containerRemove(id, { force: true }).catch(() => undefined)));
    }
  } finally {
    await Promise.all(base.map((id) => eng.containerRemove(id, { force: true }).catch(() => undefined)));
    await eng.close();
  }
  return summarize(runs);
}

/**
 * What the engine alone needs to stop `n` running containers at once (no orchestration): the floor under
 * B2's n→0 with stop grace 0. Each rep starts n containers (not timed), stops them all with
 * `stop?t=0` (timed), starts them again (not timed), kills them all and waits for their exits (timed).
 */
export async function engineStopFloor(host: string, image: string, n: number, reps: number): Promise<StopFloor> {
  const eng = new EngineClient({ host, timeoutMs: 300_000 });
  const stops: number[] = [];
  const kills: number[] = [];
  const timed = async (f: (id: string) => Promise<unknown>, ids: string[]) => {
    const t0 = process.hrtime.bigint();
    await Promise.all(ids.map(f));
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  try {
    for (let r = 0; r < reps; r++) {
      const ids: string[] = [];
      try {
        await Promise.all(
          Array.from({ length: n }, async (_, i) => {
            const c = await eng.containerCreate(
              { Image: image, Entrypoint: ['sleep'], Cmd: ['86400'], Labels: { 'shoal.bench': 'stop-floor' }, HostConfig: { RestartPolicy: { Name: 'no' } } },
              `shoal-bench-stop-floor-${process.pid}-${r}-${i}`,
            );
            ids.push(c.Id);
          }),
        );
        await Promise.all(ids.map((id) => eng.containerStart(id)));
        stops.push(await timed((id) => eng.containerStop(id, 0), ids));
        await Promise.all(ids.map((id) => eng.containerStart(id)));
        kills.push(await timed((id) => eng.containerKill(id, 'SIGKILL').then(() => eng.containerWait(id, 'not-running')), ids));
      } finally {
        await Promise.all(ids.map((id) => eng.containerRemove(id, { force: true }).catch(() => undefined)));
      }
    }
  } finally {
    await eng.close();
  }
  return { stop: summarize(stops), kill: summarize(kills) };
}

/**
 * What the engine alone needs for B4's replacement (no orchestration): kill a running container and wait
 * for its exit, then create and start another, one after the other, `reps` times.
 */
export async function engineReplaceFloor(host: string, image: string, reps: number): Promise<Summary> {
  const eng = new EngineClient({ host, timeoutMs: 300_000 });
  const runs: number[] = [];
  const ids: string[] = [];
  const run = async (name: string) => {
    const c = await eng.containerCreate({ Image: image, Entrypoint: ['sleep'], Cmd: ['86400'], Labels: { 'shoal.bench': 'replace-floor' }, HostConfig: { RestartPolicy: { Name: 'no' } } }, name);
    ids.push(c.Id);
    await eng.containerStart(c.Id);
    return c.Id;
  };
  try {
    for (let r = 0; r < reps; r++) {
      const victim = await run(`shoal-bench-replace-floor-${process.pid}-${r}-a`);
      await sleep(500);
      const t0 = process.hrtime.bigint();
      await eng.containerKill(victim, 'SIGKILL');
      await eng.containerWait(victim, 'not-running');
      await run(`shoal-bench-replace-floor-${process.pid}-${r}-b`);
      runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
  } finally {
    await Promise.all(ids.map((id) => eng.containerRemove(id, { force: true }).catch(() => undefined)));
    await eng.close();
  }
  return summarize(runs);
}

/** The value of `--name v` in bench.py's extra arguments. */
function pyArg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
