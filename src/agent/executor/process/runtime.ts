// One process task: spawn (detached, own session and process group, output into files), exit
// tracking (own child: its exit status; re-adopted after a daemon restart: liveness polling),
// stop/kill of the whole process group, log collection and health checks.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { failedPrecondition, invalidArgument, notFound, unavailable } from '../../../lib/errors';
import type { HealthConfig, Task, TaskEndpoint } from '../../../types';
import { nonZeroExit, type ExitResult, type LogLine, type LogOptions, type RuntimeStatus } from '../types';
import { HealthMonitor, probeOf } from './health';
import { LogCollector, outDir, rawFile, readLogs } from './logs';
import { portEnv } from './ports';
import {
  exitCodeOf,
  findProcessWithEnv,
  isAlive,
  parseSignal,
  procStartTime,
  processContainerId,
  readState,
  taskIdEnv,
  writeState,
  type Health,
  type ProcState,
} from './state';

export interface RuntimeEnv {
  /** PATH given to tasks whose Env has none. */
  path: string;
  /** Liveness poll of re-adopted processes and fallback log collection, ms. */
  pollMs: number;
  now: () => number;
  /** The node's DNS server for tasks (`host:port`), given to them as SHOAL_DNS (docs/design/dns.md). */
  dns?: string;
}

/**
 * The exit code reported for a re-adopted process whose end this daemon could not observe
 * (it is not our child, so its status is lost): 128 + the last signal Shoal sent it, or 137
 * (as if killed) when Shoal sent none — an unobserved death is treated as a failure.
 */
export const UNKNOWN_EXIT_CODE = 137;

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

export class ProcRuntime {
  state?: ProcState;
  readonly collector: LogCollector;
  private exited?: ExitResult;
  private exitWaiters = new Set<(r: ExitResult | Error) => void>();
  private healthListeners = new Set<(h: Health) => void>();
  private health?: HealthMonitor;
  private timer?: NodeJS.Timeout;
  private watcher?: fs.FSWatcher;
  private logsDone = false;
  private closed = false;

  constructor(
    readonly dir: string,
    readonly taskId: string,
    private readonly env: RuntimeEnv,
  ) {
    this.state = readState(dir);
    this.collector = new LogCollector(dir, env.now);
    if (this.state?.exitCode !== undefined) {
      this.exited = result(this.state.exitCode);
      this.logsDone = true;
    } else if (this.state?.pid !== undefined) {
      this.adopt();
    } else if (this.state?.launching) {
      // killed between the fork and the PID's record: find the process by its task ID, else it never ran
      const st = this.state;
      const pid = findProcessWithEnv(taskIdEnv(st.taskId));
      st.launching = undefined;
      if (pid !== undefined) this.recordStart(st, pid);
      else writeState(dir, st);
      if (pid !== undefined) this.adopt();
    }
  }

  // ---- prepare / start -------------------------------------------------------------------------

  /** True once the task's state exists (prepared now or by an earlier daemon). */
  get prepared(): boolean {
    return this.state !== undefined && this.state !== null;
  }

  /** `extraEnv`: variables the runtime adds (SHOAL_SECRETS_DIR…), after the spec's own. */
  prepare(task: Task, endpoints: TaskEndpoint[] = [], extraEnv: string[] = []): void {
    if (this.state) return;
    const spec = task.Spec.ContainerSpec;
    if (!spec) throw invalidArgument(`task ${task.ID} has no ContainerSpec`);
    const argv = [...(spec.Command ?? []), ...(spec.Args ?? [])];
    if (argv.length === 0) {
      throw invalidArgument('process runtime: the task has no command (ContainerSpec.Command/Args); images are not run');
    }
    const env = [...(spec.Env ?? [])];
    if (!env.some((e) => e.startsWith('PATH='))) env.push(`PATH=${this.env.path}`);
    // As in a container: HOSTNAME is the spec's hostname, else the short container ID.
    if (!env.some((e) => e.startsWith('HOSTNAME='))) env.push(`HOSTNAME=${spec.Hostname || processContainerId(task.ID).slice(0, 12)}`);
    env.push(taskIdEnv(task.ID));
    if (this.env.dns && !env.some((e) => e.startsWith('SHOAL_DNS='))) env.push(`SHOAL_DNS=${this.env.dns}`);
    for (const e of [...portEnv(endpoints), ...extraEnv]) if (!env.some((x) => x.startsWith(e.slice(0, e.indexOf('=') + 1)))) env.push(e);
    const cwd = spec.Dir || this.dir;
    if (spec.Dir && !fs.existsSync(spec.Dir)) throw invalidArgument(`process runtime: working directory ${spec.Dir} does not exist`);
    const { uid, gid } = taskUser(spec) ?? {};
    fs.mkdirSync(outDir(this.dir), { recursive: true });
    const st: ProcState = {
      taskId: task.ID,
      containerId: processContainerId(task.ID),
      image: spec.Image,
      argv,
      env,
      cwd,
      uid,
      gid,
      stopSignal: parseSignal(spec.StopSignal).name,
      createdAt: this.env.now(),
      ...(endpoints.length ? { endpoints } : {}),
    };
    writeState(this.dir, st);
    this.state = st;
    this.healthConfig = spec.HealthCheck;
  }

  private healthConfig?: HealthConfig;

  /** Health config comes with the task (controller), not from disk. */
  setHealthConfig(task: Task): void {
    this.healthConfig = task.Spec.ContainerSpec?.HealthCheck;
    if (this.running() && !this.health) this.startHealth();
  }

  async start(): Promise<void> {
    const st = this.state;
    if (!st) throw notFound(`No such container: ${this.taskId} (not prepared)`);
    if (st.pid !== undefined || this.exited) return;
    st.launching = true;
    writeState(this.dir, st);
    const out = fs.openSync(rawFile(this.dir, 'stdout'), 'a');
    const err = fs.openSync(rawFile(this.dir, 'stderr'), 'a');
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(st.argv[0], st.argv.slice(1), {
        cwd: st.cwd,
        env: envObject(st.env),
        stdio: ['ignore', out, err],
        detached: true,
        uid: st.uid,
        gid: st.gid,
      });
      // Record the PID before anything else can run (spawn() forked synchronously; it has no PID when it
      // failed): a daemon killed after the fork but before an await returned would otherwise leave a
      // process no state file names, and its successor would start the task a second time beside it.
      if (child.pid !== undefined) this.recordStart(st, child.pid);
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (e) {
      // not started after all: a retry must spawn again
      st.pid = st.procStart = st.startedAt = st.launching = undefined;
      writeState(this.dir, st);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw failedPrecondition(`exec: "${st.argv[0]}": executable file not found in $PATH`);
      if (code === 'EACCES') throw failedPrecondition(`exec: "${st.argv[0]}": permission denied`);
      throw failedPrecondition(`exec: "${st.argv[0]}": ${(e as Error).message}`);
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
    }
    child.unref();
    child.on('error', () => undefined); // later errors (e.g. a failed kill) must not crash the daemon
    if (st.pid === undefined) this.recordStart(st, child.pid as number);
    child.once('exit', (code, signal) => void this.onExit(exitCodeOf(code, signal)));
    this.watchOutput();
    this.startHealth();
  }

  private recordStart(st: ProcState, pid: number): void {
    st.pid = pid;
    st.launching = undefined;
    st.procStart = procStartTime(pid);
    st.startedAt = this.env.now();
    writeState(this.dir, st);
  }

  /** A process recorded by an earlier daemon: follow it if it still runs, else settle its end. */
  private adopt(): void {
    const st = this.state as ProcState;
    const pid = st.pid as number;
    if (!isAlive(pid, st.procStart)) {
      void this.onExit(adoptedExitCode(st));
      return;
    }
    this.watchOutput();
    this.startHealth();
    const poll = () => {
      if (this.closed || this.exited) return;
      if (!isAlive(pid, st.procStart)) {
        void this.onExit(adoptedExitCode(st));
        return;
      }
      this.livenessTimer = setTimeout(poll, this.env.pollMs);
      this.livenessTimer.unref();
    };
    poll();
  }

  private livenessTimer?: NodeJS.Timeout;

  private watchOutput(): void {
    const tick = () => {
      if (this.closed || this.exited) return;
      void this.collector.collect().catch(() => undefined);
      this.timer = setTimeout(tick, Math.max(this.env.pollMs, 250));
      this.timer.unref();
    };
    tick();
    try {
      this.watcher = fs.watch(outDir(this.dir), () => void this.collector.collect().catch(() => undefined));
      this.watcher.unref();
      this.watcher.on('error', () => undefined);
    } catch {
      /* polling only */
    }
  }

  private startHealth(): void {
    const st = this.state;
    const probe = probeOf(this.healthConfig);
    if (!st || !probe || this.health || this.exited || !this.healthConfig) return;
    this.health = new HealthMonitor({
      config: this.healthConfig,
      probe,
      env: { env: envObject(st.env), cwd: st.cwd, uid: st.uid, gid: st.gid },
      startedAt: st.startedAt ?? this.env.now(),
      initial: st.health,
      now: this.env.now,
      onChange: (h) => {
        if (this.state) {
          this.state.health = h;
          if (!this.closed) writeState(this.dir, this.state);
        }
        for (const l of [...this.healthListeners]) l(h);
      },
    });
    if (!st.health) {
      st.health = 'starting';
      writeState(this.dir, st);
    }
    this.health.start();
  }

  private async onExit(code: number): Promise<void> {
    // a closed runtime (daemon stopping) leaves the end to whoever adopts the task next
    if (this.exited || this.closed) return;
    const st = this.state as ProcState;
    this.health?.stop();
    if (this.timer) clearTimeout(this.timer);
    if (this.livenessTimer) clearTimeout(this.livenessTimer);
    this.watcher?.close();
    // like a container's end: whatever else runs in its process group goes too
    if (st.pid !== undefined) signalGroup(st.pid, 'SIGKILL', false);
    st.exitCode = code;
    st.finishedAt = this.env.now();
    if (!this.closed) writeState(this.dir, st);
    this.exited = result(code);
    try {
      await this.collector.collect(true);
    } catch {
      /* the directory may be gone (removed) */
    }
    this.logsDone = true;
    this.collector.notify();
    for (const w of [...this.exitWaiters]) w(this.exited);
    this.exitWaiters.clear();
  }

  // ---- queries ---------------------------------------------------------------------------------

  running(): boolean {
    return !!this.state?.pid && !this.exited;
  }

  wait(signal?: AbortSignal): Promise<ExitResult> {
    if (this.exited) return Promise.resolve(this.exited);
    return new Promise((resolve, reject) => {
      // the child and the timers are unref'd (tasks must not hold the daemon); a waiter does
      const keepAlive = setInterval(() => undefined, 1 << 30);
      const done = (r: ExitResult | Error) => {
        clearInterval(keepAlive);
        signal?.removeEventListener('abort', abort);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      const abort = () => {
        clearInterval(keepAlive);
        this.exitWaiters.delete(done);
        reject(signal?.reason instanceof Error ? signal.reason : Object.assign(new Error('The operation was aborted'), { name: 'AbortError' }));
      };
      if (signal?.aborted) return abort();
      this.exitWaiters.add(done);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  inspect(): RuntimeStatus | undefined {
    const st = this.state;
    if (!st) return undefined;
    const out: RuntimeStatus = { containerId: st.containerId, running: this.running() };
    if (st.pid !== undefined) out.pid = st.pid;
    if (this.exited) out.exitCode = this.exited.exitCode;
    const h = this.health?.status ?? st.health;
    if (h && probeOf(this.healthConfig)) out.health = h;
    if (st.endpoints) out.endpoints = st.endpoints;
    return out;
  }

  async *logs(opts: LogOptions, signal?: AbortSignal): AsyncIterable<LogLine> {
    if (!this.state) throw notFound(`No such container: ${this.taskId}`);
    yield* readLogs({ dir: this.dir, collector: this.collector, finished: () => this.logsDone || this.closed || !this.state?.pid }, opts, signal);
  }

  onHealth(listener: (h: Health) => void): () => void {
    this.healthListeners.add(listener);
    const current = this.health?.status;
    if (current) queueMicrotask(() => this.healthListeners.has(listener) && listener(current));
    return () => this.healthListeners.delete(listener);
  }

  // ---- stop / kill / remove --------------------------------------------------------------------

  async shutdown(graceMs: number): Promise<void> {
    const st = this.state;
    if (!st || !this.running()) return;
    this.signal(st.stopSignal);
    const ended = await this.waitFor(graceMs);
    if (!ended) await this.terminate();
  }

  async terminate(): Promise<void> {
    if (!this.state || !this.running()) return;
    this.signal('SIGKILL');
    await this.wait();
  }

  private signal(sig: string): void {
    const st = this.state as ProcState;
    const name = parseSignal(sig).name;
    st.signalSent = name;
    writeState(this.dir, st);
    signalGroup(st.pid as number, name);
  }

  private waitFor(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(), Math.max(0, ms));
      this.wait(ac.signal).then(
        () => {
          clearTimeout(t);
          resolve(true);
        },
        () => resolve(false),
      );
    });
  }

  async remove(): Promise<void> {
    if (this.running()) await this.terminate();
    this.close();
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.state = undefined;
  }

  /** Stops watching and waits for the log collection in flight; the process keeps running. */
  async closeSettled(): Promise<void> {
    this.close();
    await this.collector.settled();
  }

  /** Stops watching; the process keeps running. */
  close(): void {
    this.closed = true;
    for (const w of [...this.exitWaiters]) w(unavailable('process runtime closed (daemon stopping)'));
    this.exitWaiters.clear();
    this.collector.notify();
    this.health?.stop();
    if (this.timer) clearTimeout(this.timer);
    if (this.livenessTimer) clearTimeout(this.livenessTimer);
    this.watcher?.close();
  }
}

function adoptedExitCode(st: ProcState): number {
  return st.signalSent ? 128 + parseSignal(st.signalSent).number : UNKNOWN_EXIT_CODE;
}

function result(code: number): ExitResult {
  return code === 0 ? { exitCode: 0 } : { exitCode: code, error: nonZeroExit(code) };
}

/** The numeric `uid[:gid]` a task runs as, when the daemon is root and the spec names one. */
export function taskUser(spec: { User?: string }): { uid: number; gid: number } | undefined {
  const um = /^(\d+)(?::(\d+))?$/.exec(spec.User ?? '');
  if (!um || !isRoot()) return undefined;
  const uid = Number(um[1]);
  return { uid, gid: um[2] !== undefined ? Number(um[2]) : uid };
}

function envObject(env: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const i = e.indexOf('=');
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
    else if (i < 0 && e && process.env[e] !== undefined) out[e] = process.env[e] as string;
  }
  return out;
}

/** Signals the process group led by `pid` (and `pid` itself, in case it left the group). */
function signalGroup(pid: number, sig: NodeJS.Signals, leaderToo = true): void {
  for (const target of leaderToo ? [-pid, pid] : [-pid]) {
    try {
      process.kill(target, sig);
    } catch {
      /* ESRCH: gone */
    }
  }
}

export const taskDir = (dataDir: string, taskId: string) => path.join(dataDir, 'tasks', taskId);
