// Real Docker Swarm beside Shoal in the same bench run: simulated hosts (a network namespace, a
// bridge, one dockerd each with bridge networking and busybox:local imported) brought up by the
// shared realswarm scripts (../shared/realswarm: up.sh, swarm.sh, down.sh; only called, never
// changed), and bench.py, the one workload both sides are measured with.
//
// Names are this bench's own so that other sessions' namespaces never collide: RS_PREFIX (netns and
// hostnames), RS_BRIDGE and RS_NET (the /24) come from SHOAL_BENCH_RS_PREFIX / _BRIDGE / _NET or
// the defaults below; the env file and state live in a temp dir of this run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
/** ../shared/realswarm beside the checkout (a git worktree one level deeper finds it one level up). */
export const SHARED =
  process.env.SHOAL_REALSWARM_DIR ?? [path.resolve(ROOT, '..', 'shared', 'realswarm'), path.resolve(ROOT, '..', '..', 'shared', 'realswarm')].find((d) => fs.existsSync(d)) ?? path.resolve(ROOT, '..', 'shared', 'realswarm');

export type Summary = { min: number | null; median: number | null; max: number | null; n: number; p90?: number; runs?: number[] };
export type Results = Record<string, Record<string, unknown>>;

export interface RsHost {
  name: string;
  index: number;
  ip: string;
  /** unix:// address of the host's dockerd */
  sock: string;
  pidfile: string;
}

/** Why real Swarm hosts cannot be brought up here, or undefined. */
export function realSwarmUnavailable(): string | undefined {
  for (const f of ['up.sh', 'swarm.sh', 'down.sh', 'bench.py']) if (!fs.existsSync(path.join(SHARED, f))) return `no ${f} in ${SHARED} (set SHOAL_REALSWARM_DIR)`;
  if (process.getuid?.() !== 0) return 'network namespaces and dockerd need root';
  if (spawnSync('dockerd', ['--version']).status !== 0) return 'no dockerd on PATH';
  if (spawnSync('sh', ['-c', 'command -v busybox']).status !== 0) return 'no static busybox for the image (apt-get install busybox-static)';
  return undefined;
}

/** Why bench.py cannot run here, or undefined. */
export function benchPyUnavailable(): string | undefined {
  if (!fs.existsSync(path.join(SHARED, 'bench.py'))) return `no realswarm workload at ${SHARED}/bench.py (set SHOAL_REALSWARM_DIR)`;
  const py = spawnSync('python3', ['-c', 'import docker'], { encoding: 'utf8' });
  if (py.status !== 0) return 'python3 with docker-py (python3-docker) is needed to run bench.py';
  if (spawnSync('docker', ['--version']).status !== 0) return 'the docker CLI is needed (swarm init)';
  return undefined;
}

/** A set of simulated hosts from up.sh; `down()` tears them down (idempotent). */
export class RealSwarmHosts {
  readonly hosts: RsHost[];
  private isDown = false;

  private constructor(
    readonly env: string,
    readonly base: string,
    private readonly vars: Record<string, string>,
  ) {
    const hj = JSON.parse(fs.readFileSync(path.join(base, 'hosts.json'), 'utf8')) as { hosts: RsHost[] };
    this.hosts = hj.hosts;
  }

  /**
   * `up.sh n` with this run's names. `tag` tells this bench's sets apart (e.g. "s" single-node,
   * "m" multinode) so two benches of one session can run at once. Throws with up.sh's output on failure.
   */
  static up(n: number, tag: string): RealSwarmHosts {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-rs-'));
    const prefix = process.env.SHOAL_BENCH_RS_PREFIX ?? `sbs${tag}`;
    const vars: Record<string, string> = {
      RS_ENV: path.join(dir, 'rs.env'),
      RS_BASE: path.join(dir, 'base'),
      RS_PREFIX: prefix,
      RS_BRIDGE: process.env.SHOAL_BENCH_RS_BRIDGE ?? `br-${prefix}`,
      RS_NET: process.env.SHOAL_BENCH_RS_NET ?? (tag === 'm' ? '10.239.72' : '10.239.71'),
      RS_DOWN_GRACE: '5',
    };
    const r = runScript('up.sh', [String(n)], vars, 300_000);
    if (r.status !== 0) {
      // whatever up.sh made before it failed
      if (fs.existsSync(vars.RS_ENV!)) runScript('down.sh', [], vars, 180_000);
      throw new Error(`up.sh ${n} failed (${r.status ?? r.signal}): ${tail(r.stderr)}`);
    }
    return new RealSwarmHosts(vars.RS_ENV!, vars.RS_BASE!, vars);
  }

  /** `swarm.sh managers [init args]`: host 1 inits, hosts 2..managers join as managers, the rest as workers. */
  formSwarm(managers: number, initArgs: string[] = []): void {
    const r = this.script('swarm.sh', [String(managers), ...initArgs], 180_000);
    if (r.status !== 0) throw new Error(`swarm.sh failed (${r.status ?? r.signal}): ${tail(r.stderr)}`);
  }

  /** `docker swarm init` on one host only (the others stay plain engines); the swarm port of its own address. */
  initSwarm(h: RsHost): void {
    const r = spawnSync('docker', ['-H', h.sock, 'swarm', 'init', '--advertise-addr', h.ip], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`swarm init on ${h.name} failed: ${tail(r.stderr)}`);
  }

  /** Leaves swarm mode on every host (the engines stay up), so the same engines can serve Shoal next. */
  leaveSwarm(): void {
    for (const h of [...this.hosts].reverse()) spawnSync('docker', ['-H', h.sock, 'swarm', 'leave', '--force'], { encoding: 'utf8', timeout: 60_000 });
  }

  /** PID of the host's live dockerd (from its pidfile), if any. */
  dockerdPid(h: RsHost): number | undefined {
    try {
      const pid = Number(fs.readFileSync(h.pidfile, 'utf8').trim());
      return pid > 0 && fs.existsSync(`/proc/${pid}`) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  down(): void {
    if (this.isDown || !fs.existsSync(this.env)) return;
    this.isDown = true;
    const r = this.script('down.sh', [], 180_000);
    if (r.status !== 0) process.stderr.write(`realswarm down.sh: ${tail(r.stderr)}\n`);
    else fs.rmSync(path.dirname(this.env), { recursive: true, force: true });
  }

  private script(name: string, args: string[], timeout: number) {
    return runScript(name, args, this.vars, timeout);
  }
}

function runScript(name: string, args: string[], vars: Record<string, string>, timeout: number) {
  return spawnSync('bash', [path.join(SHARED, name), ...args], { env: { ...process.env, ...vars }, encoding: 'utf8', timeout });
}

const tail = (s: string | null | undefined) => (s ?? '').trim().split('\n').slice(-8).join('\n');

/**
 * Runs bench.py with `args` (without --out/--label) and returns its results under `label`.
 * Its log goes to stderr; a failing run throws.
 */
export function runBenchPy(label: string, outFile: string, args: string[], timeoutMs = 45 * 60_000): Results {
  const r = spawnSync('python3', [path.join(SHARED, 'bench.py'), ...args, '--label', label, '--out', outFile], { stdio: ['ignore', 'inherit', 'inherit'], timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`bench.py (${label}) exited ${r.status ?? r.signal}`);
  return (JSON.parse(fs.readFileSync(outFile, 'utf8')) as Record<string, { results: Results }>)[label]!.results;
}

/** min / median / max of a list (median: the upper middle for an even count, as bench.py's). */
export function summarize(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return { min: null, median: null, max: null, n: 0 };
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]!, n: s.length, runs: xs };
}

export const loadText = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
