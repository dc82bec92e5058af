// Health checks for process tasks, with the engine's rules: the first probe one interval after
// the start; success → healthy and the failing streak resets; a failure (non-zero exit, timeout,
// command not found) adds to the streak unless the task never was healthy and is still in its
// start period; streak ≥ retries → unhealthy.
import { spawn } from 'node:child_process';
import type { HealthConfig } from '../../../types';
import type { Health } from './state';

const NS_PER_MS = 1_000_000;
export const DEFAULT_INTERVAL_MS = 30_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_RETRIES = 3;

export interface Probe {
  argv: string[];
}

/** The probe command of a health config, or undefined when there is none (absent, empty, NONE). */
export function probeOf(h: HealthConfig | undefined): Probe | undefined {
  const t = h?.Test;
  if (!t?.length) return undefined;
  switch (t[0]) {
    case 'NONE':
      return undefined;
    case 'CMD':
      return t.length > 1 ? { argv: t.slice(1) } : undefined;
    case 'CMD-SHELL':
      return t.length > 1 ? { argv: ['/bin/sh', '-c', t.slice(1).join(' ')] } : undefined;
    default:
      // the engine treats an unprefixed test like CMD-SHELL
      return { argv: ['/bin/sh', '-c', t.join(' ')] };
  }
}

export interface ProbeEnv {
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
}

/** Runs one probe: true on exit 0, false on any other exit, spawn failure or timeout. */
export function runProbe(p: Probe, env: ProbeEnv, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(ok);
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(p.argv[0], p.argv.slice(1), {
        cwd: env.cwd,
        env: env.env,
        stdio: 'ignore',
        detached: true,
        uid: env.uid,
        gid: env.gid,
      });
    } catch {
      resolve(false);
      return;
    }
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      finish(false);
    }, timeoutMs);
    child.on('error', () => finish(false));
    child.on('exit', (code) => finish(code === 0));
  });
}

export interface HealthMonitorOptions {
  config: HealthConfig;
  probe: Probe;
  env: ProbeEnv;
  /** When the task started (ms since epoch), for the start period. */
  startedAt: number;
  /** Status to begin with (a re-adopted task keeps what it had). */
  initial?: Health;
  onChange: (h: Health) => void;
  now?: () => number;
  /** Replaceable for tests. */
  run?: (p: Probe, env: ProbeEnv, timeoutMs: number) => Promise<boolean>;
}

export class HealthMonitor {
  status: Health;
  failingStreak = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly startPeriodMs: number;

  constructor(private readonly o: HealthMonitorOptions) {
    this.status = o.initial ?? 'starting';
    this.intervalMs = o.config.Interval ? o.config.Interval / NS_PER_MS : DEFAULT_INTERVAL_MS;
    this.timeoutMs = o.config.Timeout ? o.config.Timeout / NS_PER_MS : DEFAULT_TIMEOUT_MS;
    this.retries = o.config.Retries && o.config.Retries > 0 ? o.config.Retries : DEFAULT_RETRIES;
    this.startPeriodMs = o.config.StartPeriod ? o.config.StartPeriod / NS_PER_MS : 0;
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const now = this.o.now ?? Date.now;
    const began = now();
    const ok = await (this.o.run ?? runProbe)(this.o.probe, this.o.env, this.timeoutMs);
    if (this.stopped) return;
    this.record(ok, began);
    this.schedule();
  }

  /** Applies one probe result that began at `began` (ms). */
  record(ok: boolean, began: number): void {
    let next = this.status;
    if (ok) {
      this.failingStreak = 0;
      next = 'healthy';
    } else {
      const inStartPeriod = this.status === 'starting' && began - this.o.startedAt < this.startPeriodMs;
      if (!inStartPeriod) {
        this.failingStreak++;
        if (this.failingStreak >= this.retries) next = 'unhealthy';
      }
    }
    if (next !== this.status) {
      this.status = next;
      this.o.onChange(next);
    }
  }
}
