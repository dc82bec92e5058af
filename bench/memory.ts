// Issue 16's memory target without Docker: the Shoal daemon (manager) started as users start it
// (`node bin/shoal.js daemon`, process runtime, no source maps), measured from /proc:
//   idle             a fresh single-manager swarm (`swarm init`), 5 s later (as bench.py's B7)
//   idle, settled    the same 30 s after `swarm init` (--idle-long): V8 shrinks its young generation
//                    and compacts once allocation has stayed low for a while (its memory reducer)
//   100 tasks        a service of 100 replicas (`sleep 1000`), all running, 5 s later
//   after removing   the service removed and its tasks gone, 5 s later
// RSS (VmRSS), its peak so far (VmHWM) and USS (Private_Clean + Private_Dirty). Medians of --reps runs
// (default 3), each on a new daemon. The floor is node itself: `node -e "setInterval(()=>{},1e3)"`,
// measured in the same run: its RSS is mostly node's binary pages, which every node process has.
// `--breakdown` adds one run with bench/memory-probe.js preloaded: V8 heap spaces, modules loaded
// per package, resident memory per mapping (anonymous vs node's binary).
//
//   npm run build && node dist/bench/memory.js [--reps 3] [--tasks 100 (0: idle only)] [--runtime process|docker] [--settle 5] [--idle-long 30] [--breakdown]
//                                              [--node-args "--max-semi-space-size=16"]  (flags for the daemon and the floor)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, sleep, TestDaemon, waitFor } from '../test/harness/daemon';
import { procMemory, residentByMapping, type ProcMemory } from '../test/harness/proc-mem';
import type { ProbeReport } from './memory-probe';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
const REPS = Number(arg('reps', '3'));
const TASKS = Number(arg('tasks', '100'));
const SETTLE_MS = Number(arg('settle', '5')) * 1000;
const IDLE_LONG_MS = Number(arg('idle-long', '30')) * 1000;
const NODE_ARGS = arg('node-args', '').split(' ').filter(Boolean);
/** `--runtime docker`: the daemon drives $SHOAL_TEST_ENGINE (scripts/ci-engine.sh) and the tasks are containers of $SHOAL_TEST_IMAGE. */
const RUNTIME = arg('runtime', 'process') as 'process' | 'docker';
const IMAGE = RUNTIME === 'docker' ? (process.env.SHOAL_TEST_IMAGE ?? 'shoal-busybox:test') : 'busybox';
const IDLE = `idle, ${SETTLE_MS / 1000} s after swarm init`;
const IDLE_LONG = `idle, ${IDLE_LONG_MS / 1000} s after swarm init`;
const STATES = [IDLE, ...(IDLE_LONG_MS > SETTLE_MS ? [IDLE_LONG] : []), ...(TASKS > 0 ? [`${TASKS} tasks`, 'after removing them'] : [])];

type Sample = Record<string, ProcMemory>;

/** node's own floor: an idle node process that only keeps a timer. */
async function nodeFloor(): Promise<ProcMemory> {
  const p = spawn(process.execPath, [...NODE_ARGS, '-e', 'setInterval(()=>{},1e3)'], { stdio: 'ignore' });
  try {
    await sleep(SETTLE_MS);
    return procMemory(p.pid!);
  } finally {
    p.kill('SIGKILL');
  }
}

/** One daemon from start to removal of its tasks; the samples of each state, plus the probe's report with `probe`. */
async function oneRun(probe?: string): Promise<{ sample: Sample; report?: ProbeReport; final?: ProbeReport; mappings?: ReturnType<typeof residentByMapping> }> {
  const nodeArgs = [...NODE_ARGS, ...(probe ? ['-r', path.join(__dirname, 'memory-probe.js')] : [])];
  const d = new TestDaemon({ runtime: RUNTIME, engine: RUNTIME === 'docker' ? process.env.SHOAL_TEST_ENGINE : undefined, hostname: 'mem', sourceMaps: false, viaBin: true, nodeArgs, env: probe ? { SHOAL_MEMORY_PROBE_OUT: probe } : undefined });
  const sample: Sample = {};
  let report: ProbeReport | undefined;
  let final: ProbeReport | undefined;
  let mappings: ReturnType<typeof residentByMapping> | undefined;
  try {
    await d.start();
    const pid = d.proc!.pid!;
    d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`]);
    await sleep(SETTLE_MS);
    sample[IDLE] = procMemory(pid);
    const askProbe = async (): Promise<ProbeReport> => {
      fs.rmSync(probe!, { force: true });
      process.kill(pid, 'SIGUSR2');
      return waitFor(() => (fs.existsSync(probe!) ? (JSON.parse(fs.readFileSync(probe!, 'utf8')) as ProbeReport) : undefined), 10_000, 'the probe report');
    };
    if (probe) {
      mappings = residentByMapping(pid);
      report = await askProbe();
    }
    if (IDLE_LONG_MS > SETTLE_MS) {
      await sleep(IDLE_LONG_MS - SETTLE_MS);
      sample[IDLE_LONG] = procMemory(pid);
    }
    if (TASKS === 0) return { sample, report, mappings };
    d.dockerOk(['service', 'create', '--detach', '--name', 'mem', '--replicas', String(TASKS), '--stop-grace-period', '1s', IMAGE, 'sleep', '1000']);
    await waitFor(async () => (await d.runningTasks('mem')).length === TASKS, 180_000, `${TASKS} tasks running`, 500);
    await sleep(SETTLE_MS);
    sample[`${TASKS} tasks`] = procMemory(pid);
    d.dockerOk(['service', 'rm', 'mem']);
    await waitFor(async () => (await d.tasksOf('mem').catch(() => [])).length === 0, 120_000, 'the tasks gone', 500);
    await sleep(SETTLE_MS);
    sample['after removing them'] = procMemory(pid);
    if (probe) final = await askProbe();
  } finally {
    await d.teardown();
  }
  return { sample, report, final, mappings };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f1 = (n: number) => n.toFixed(1);
const cell = (xs: number[]) => (xs.length > 1 ? `${f1(median(xs))} (${f1(Math.min(...xs))}–${f1(Math.max(...xs))})` : f1(xs[0]!));
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function breakdownText(r: ProbeReport, mappings: ReturnType<typeof residentByMapping>, final?: ProbeReport): string {
  const MiB = 2 ** 20;
  const m = r.memory;
  const lines = [
    '',
    'Idle breakdown (one extra run with bench/memory-probe.js preloaded):',
    `  process.memoryUsage(): rss ${f1(m.rss / MiB)}, heapTotal ${f1(m.heapTotal / MiB)}, heapUsed ${f1(m.heapUsed / MiB)}, external ${f1(m.external / MiB)} (arrayBuffers ${f1(m.arrayBuffers / MiB)}) MiB`,
    `  V8 spaces (used / committed MiB): ${r.spaces
      .filter((s) => s.committedMiB > 0.05)
      .map((s) => `${s.name} ${f1(s.usedMiB)}/${f1(s.committedMiB)}`)
      .join(', ')}`,
    `  garbage collections until idle: ${r.gc.minor} scavenges, ${r.gc.major} mark-compacts, ${f1(r.gc.pauseMs)} ms` +
      (final ? `; until the end (after ${TASKS} tasks came and went): ${final.gc.minor} scavenges, ${final.gc.major} mark-compacts, ${f1(final.gc.pauseMs)} ms` : ''),
    `  modules loaded: ${r.modules} (${f1(r.sourceMiB)} MiB of files); by owner (modules, KiB):`,
    ...Object.entries(r.byOwner)
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, 25)
      .map(([o, v]) => `    ${o.padEnd(40)} ${String(v.modules).padStart(4)} ${String(Math.round(v.bytes / 1024)).padStart(6)}`),
    '  resident per mapping (RSS / private MiB):',
    ...[...mappings.entries()]
      .sort((a, b) => b[1].rssMiB - a[1].rssMiB)
      .slice(0, 6)
      .map(([name, v]) => `    ${name.padEnd(60)} ${f1(v.rssMiB).padStart(6)} ${f1(v.privateMiB).padStart(6)}`),
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (process.platform !== 'linux') throw new Error('the memory bench reads /proc: Linux only');
  if (RUNTIME === 'docker' && !process.env.SHOAL_TEST_ENGINE) throw new Error('--runtime docker needs SHOAL_TEST_ENGINE (eval "$(bash scripts/ci-engine.sh start)")');
  const load0 = load();
  const runs: Sample[] = [];
  const floors: ProcMemory[] = [];
  for (let r = 0; r < REPS; r++) {
    console.error(`memory bench: run ${r + 1}/${REPS} (load ${load()})`);
    floors.push(await nodeFloor());
    runs.push((await oneRun()).sample);
  }
  let extra = '';
  if (process.argv.includes('--breakdown')) {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-mem-probe-')), 'probe.json');
    const { report, mappings, final } = await oneRun(out);
    if (report && mappings) extra = breakdownText(report, mappings, final);
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }
  const rows = [
    '| state | RSS MiB | peak RSS (VmHWM) MiB | USS MiB |',
    '|---|---|---|---|',
    `| node floor (\`node -e "setInterval(()=>{},1e3)"\`) | ${cell(floors.map((f) => f.rssMiB))} | ${cell(floors.map((f) => f.hwmMiB))} | ${cell(floors.map((f) => f.ussMiB))} |`,
    ...STATES.map((s) => `| Shoal manager, ${s} | ${cell(runs.map((x) => x[s]!.rssMiB))} | ${cell(runs.map((x) => x[s]!.hwmMiB))} | ${cell(runs.map((x) => x[s]!.ussMiB))} |`),
  ];
  console.log(`\nShoal daemon memory, ${RUNTIME} runtime, node ${process.version}${NODE_ARGS.length ? ` ${NODE_ARGS.join(' ')}` : ''}; median (min–max) of ${REPS} runs; load average ${load0} → ${load()}`);
  console.log(rows.join('\n'));
  console.log(`target (issue 16): RSS idle ≤ 80 MiB${extra}`);
}

if (require.main === module) {
  main().catch((e: Error) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
  });
}
