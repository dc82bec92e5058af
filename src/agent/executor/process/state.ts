// On-disk record of one process task: `<dataDir>/tasks/<taskId>/state.json`, written atomically.
// It lets a restarted daemon find (and re-adopt) the processes its predecessor started.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TaskEndpoint } from '../../../types';
import { writeFileDurableSync } from '../../../sys/durable-file';
import { openState, sealState } from '../../../sys/state-key';

export type Health = 'starting' | 'healthy' | 'unhealthy';

export interface ProcState {
  taskId: string;
  containerId: string;
  /** Recorded, never pulled. */
  image: string;
  argv: string[];
  env: string[];
  cwd: string;
  uid?: number;
  gid?: number;
  stopSignal: string;
  createdAt: number;
  pid?: number;
  /** /proc/<pid>/stat start time (clock ticks since boot), to tell a reused PID from ours. */
  procStart?: string;
  startedAt?: number;
  exitCode?: number;
  finishedAt?: number;
  /** The last signal Shoal sent (a stop or kill); decides the exit code of an adopted process. */
  signalSent?: string;
  health?: Health;
  /** The node ports given to the task for its service's published ports (ports.ts). */
  endpoints?: TaskEndpoint[];
  /**
   * Set (durably) just before the fork, cleared when the PID is recorded: a daemon killed in between
   * leaves a process no PID names, which its successor finds by the task's SHOAL_TASK_ID.
   */
  launching?: boolean;
}

/** The environment entry every process task carries, so a process whose PID was never recorded can be found. */
export const taskIdEnv = (taskId: string): string => `SHOAL_TASK_ID=${taskId}`;

/** The PID of a live process whose environment holds `entry` (scans /proc; only for recovery). */
export function findProcessWithEnv(entry: string): number | undefined {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined;
  }
  for (const p of pids) {
    try {
      if (fs.readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(entry)) return Number(p);
    } catch {
      /* gone, or not ours to read */
    }
  }
  return undefined;
}

/** 64 hex characters standing in for a container ID: sha256 of the task ID. */
export function processContainerId(taskId: string): string {
  return createHash('sha256').update(`shoal-process-task:${taskId}`).digest('hex');
}

export function safeTaskId(taskId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(taskId)) throw new Error(`invalid task ID for the process runtime: ${JSON.stringify(taskId)}`);
  return taskId;
}

export const stateFile = (dir: string) => path.join(dir, 'state.json');
/** A task's directory is `<dataDir>/tasks/<taskId>` (runtime.ts taskDir). */
const dataDirOf = (taskDir: string) => path.dirname(path.dirname(taskDir));

export function readState(dir: string): ProcState | undefined {
  try {
    const { text, sealed } = openState(dataDirOf(dir), fs.readFileSync(stateFile(dir)));
    const s = JSON.parse(text) as ProcState;
    if (!sealed) writeState(dir, s); // plain text from an older release: seal it now
    return s;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // a torn write cannot happen (rename), but an unreadable file must not crash the daemon
    return undefined;
  }
}

export function writeState(dir: string, s: ProcState): void {
  // sealed: the record carries the task's environment values (sys/state-key)
  writeFileDurableSync(stateFile(dir), sealState(dataDirOf(dir), JSON.stringify(s)), { mode: 0o600 });
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, …]; undefined if absent. */
function procStat(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** The process's start time in clock ticks since boot (Linux), for PID-reuse checks. */
export function procStartTime(pid: number): string | undefined {
  return procStat(pid)?.[19];
}

/** True while `pid` exists, is not a zombie and (when known) started at `start`. */
export function isAlive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const st = procStat(pid);
  if (!st) return process.platform !== 'linux';
  if (st[0] === 'Z' || st[0] === 'X') return false;
  if (start !== undefined && st[19] !== start) return false;
  return true;
}

/** Signal name or number ("SIGTERM", "TERM", "15") → { name, number }; SIGTERM when unknown. */
export function parseSignal(sig: string | undefined): { name: NodeJS.Signals; number: number } {
  const table = os.constants.signals as Record<string, number>;
  const s = (sig ?? '').trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    const name = Object.keys(table).find((k) => table[k] === n);
    if (name) return { name: name as NodeJS.Signals, number: n };
  } else if (s) {
    const name = s.startsWith('SIG') ? s : `SIG${s}`;
    if (table[name] !== undefined) return { name: name as NodeJS.Signals, number: table[name] };
  }
  return { name: 'SIGTERM', number: table.SIGTERM };
}

/** Docker's convention: a process killed by signal N exits with 128+N. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal) return 128 + parseSignal(signal).number;
  return 255;
}
