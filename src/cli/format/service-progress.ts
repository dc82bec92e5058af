// The progress `docker service create|update|rollback|scale` print while they wait (the docker
// CLI's cli/command/service/progress), as a pure state machine: the caller polls the service, its
// up-to-date tasks and the nodes every 200 ms and feeds them in; out come the progress messages, and
// at the end "converged", "job complete" or an error. `plainText` renders the messages the way the
// docker CLI prints them when stdout is not a terminal; `TtyRenderer` the way it redraws them on one.
import type { ApiService } from './services';
import type { ApiTask } from './tasks';
import { truncId } from './text';

/** One progress message (jsonmessage): `id: action`, a bar when current/total are set, or a plain status. */
export interface ProgressMsg {
  id: string;
  /** Status text of a progress line (`Action`). */
  action?: string;
  /** A status message (`progress.Message`): shown on every output, never as a bar. */
  message?: string;
  current?: number;
  total?: number;
}

const NUMBERED: Record<string, number> = {
  new: 1,
  allocated: 2,
  pending: 3,
  assigned: 4,
  accepted: 5,
  preparing: 6,
  ready: 7,
  starting: 8,
  running: 9,
  complete: 10,
  shutdown: 11,
  failed: 12,
  rejected: 13,
};
const num = (s: string | undefined): number => NUMBERED[s ?? ''] ?? 0;
const terminal = (s: string | undefined): boolean => num(s) > NUMBERED.running!;
/** The longest state name shown in a bar ("preparing", "allocated"), which pads the state column. */
const LONGEST_STATE = Math.max(...Object.keys(NUMBERED).filter((s) => !terminal(s) || s === 'complete').map((s) => s.length));
const MAX_PROGRESS = 9;
const MAX_BARS = 20;
const MAX_JOB_PROGRESS = 10;

/** An error cut for a progress line: newlines become spaces, at most 75 bytes (74 and "…"). */
export function truncError(err: string): string {
  const s = err.replace(/\n/g, ' ');
  const b = Buffer.from(s, 'utf8');
  return b.length > 75 ? b.subarray(0, 74).toString('utf8') + '…' : s;
}

const stateBar = (id: string, state: string, total: number): ProgressMsg => ({ id, action: state.padEnd(LONGEST_STATE), current: num(state), total });

/** jsonmessage's non-terminal rule: a line that would draw a bar is left out; the rest print as `id: text`. */
export function plainText(m: ProgressMsg): string {
  if (m.message !== undefined) return (m.id ? `${m.id}: ` : '') + m.message + '\n';
  if ((m.current ?? 0) > 0 || (m.total ?? 0) > 0) return '';
  return (m.id ? `${m.id}: ` : '') + (m.action ?? '') + '\n';
}

/** JSONProgress.String() as a service progress uses it (counts hidden, no start time): the bar, shown when the terminal is wider than 110. */
function bar(m: ProgressMsg, width: number): string {
  const current = m.current ?? 0;
  const total = m.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return '';
  const pct = Math.min(50, Math.trunc(Math.trunc((current / total) * 100) / 2));
  return width > 110 ? `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] ` : '';
}

/**
 * jsonmessage's terminal output: every progress ID keeps its line and is redrawn in place (cursor up,
 * clear line, text, cursor down); a plain message starts afresh below. `width` is the terminal's.
 */
export class TtyRenderer {
  private lines = new Map<string, number>();
  constructor(private readonly width: number) {}

  render(m: ProgressMsg): string {
    let s = '';
    let diff = 0;
    const isProgress = m.message === undefined;
    if (m.id && isProgress) {
      let line = this.lines.get(m.id);
      if (line === undefined) {
        line = this.lines.size;
        this.lines.set(m.id, line);
        s += '\n';
      }
      diff = this.lines.size - line;
      if (diff > 0) s += `\x1b[${diff}A`;
    } else this.lines.clear();
    if (isProgress) s += '\x1b[2K\r';
    if (m.id) s += `${m.id}: `;
    s += isProgress ? `${m.action ?? ''} ${bar(m, this.width)}\r` : `${m.message}\n`;
    if (m.id && diff > 0) s += `\x1b[${diff}B`;
    return s;
  }
}

interface Updater {
  update(s: ApiService, tasks: readonly ApiTask[], activeNodes: ReadonlySet<string>, rollback: boolean, out: ProgressMsg[]): boolean;
}

function overall(out: ProgressMsg[], n: number, of: number, rollback: boolean): void {
  out.push({ id: 'overall progress', action: `${rollback ? 'rolling back update: ' : ''}${n} out of ${of} tasks` });
}

/** Keeps, per key, the task with the lowest desired state, then the lowest observed state (restarts, start-first updates). */
function lowestByKey(tasks: readonly ApiTask[], key: (t: ApiTask) => string | number): Map<string | number, ApiTask> {
  const m = new Map<string | number, ApiTask>();
  for (const t of tasks) {
    if (!num(t.DesiredState) || !num(t.Status.State)) continue;
    const cur = m.get(key(t));
    if (cur) {
      if (num(cur.DesiredState) < num(t.DesiredState)) continue;
      if (num(cur.DesiredState) === num(t.DesiredState) && num(cur.Status.State) <= num(t.Status.State)) continue;
    }
    m.set(key(t), t);
  }
  return m;
}

class Replicated implements Updater {
  private slotMap = new Map<number, number>();
  private initialized = false;
  private done = false;

  update(s: ApiService, tasks: readonly ApiTask[], active: ReadonlySet<string>, rollback: boolean, out: ProgressMsg[]): boolean {
    const replicas = s.Spec.Mode.Replicated?.Replicas ?? 1;
    if (!this.initialized) {
      overall(out, 0, replicas, rollback);
      if (replicas <= MAX_BARS) for (let i = 1; i <= replicas; i++) out.push({ id: `${i}/${replicas}`, action: ' ' });
      this.initialized = true;
    }
    // Tasks on nodes that are down do not count (the Go code skips them while choosing per slot).
    const bySlot = lowestByKey(
      tasks.filter((t) => !t.NodeID || active.has(t.NodeID)),
      (t) => t.Slot ?? 0,
    );
    if (this.done && [...bySlot.values()].some((t) => t.Status.State !== 'running')) this.done = false;
    let running = 0;
    for (const t of bySlot.values()) {
      let mapped = this.slotMap.get(t.Slot ?? 0);
      if (!mapped) {
        mapped = this.slotMap.size + 1;
        this.slotMap.set(t.Slot ?? 0, mapped);
      }
      if (!terminal(t.DesiredState) && t.Status.State === 'running') running++;
      if (this.done || replicas > MAX_BARS || mapped > replicas) continue;
      const id = `${mapped}/${replicas}`;
      if (t.Status.Err) out.push({ id, action: truncError(t.Status.Err) });
      else if (!terminal(t.DesiredState) && !terminal(t.Status.State)) out.push(stateBar(id, t.Status.State, MAX_PROGRESS));
    }
    if (!this.done) {
      overall(out, running, replicas, rollback);
      if (running === replicas) this.done = true;
    }
    return running === replicas;
  }
}

class Global implements Updater {
  private initialized = false;
  private done = false;

  update(_s: ApiService, tasks: readonly ApiTask[], active: ReadonlySet<string>, rollback: boolean, out: ProgressMsg[]): boolean {
    const byNode = lowestByKey(tasks, (t) => t.NodeID ?? '');
    const nodeCount = byNode.size;
    if (!this.initialized) {
      if (nodeCount === 0) {
        out.push({ id: 'overall progress', action: 'waiting for new tasks' });
        return false;
      }
      overall(out, 0, nodeCount, rollback);
      this.initialized = true;
    }
    if (this.done && [...byNode.values()].some((t) => t.Status.State !== 'running')) this.done = false;
    let running = 0;
    for (const t of byNode.values()) {
      if (!active.has(t.NodeID ?? '')) continue;
      if (!terminal(t.DesiredState) && t.Status.State === 'running') running++;
      if (this.done || nodeCount > MAX_BARS) continue;
      const id = truncId(t.NodeID ?? '');
      if (t.Status.Err) out.push({ id, action: truncError(t.Status.Err) });
      else if (!terminal(t.DesiredState) && !terminal(t.Status.State)) out.push(stateBar(id, t.Status.State, MAX_PROGRESS));
    }
    if (!this.done) {
      overall(out, running, nodeCount, rollback);
      if (running === nodeCount) this.done = true;
    }
    return running === nodeCount;
  }
}

const pad = (n: number, width: number) => String(n).padStart(width);

class ReplicatedJob implements Updater {
  private initialized = false;
  private readonly concurrent: number;
  private readonly total: number;
  private readonly iteration: number;

  constructor(s: ApiService) {
    this.concurrent = s.Spec.Mode.ReplicatedJob?.MaxConcurrent ?? 1;
    this.total = s.Spec.Mode.ReplicatedJob?.TotalCompletions ?? this.concurrent;
    this.iteration = s.JobStatus?.JobIteration.Index ?? 0;
  }

  private overall(out: ProgressMsg[], activeTasks: number, completed: number): void {
    const digits = String(this.total).length;
    out.push({ id: 'job progress', action: `${pad(completed, digits)} out of ${this.total} complete`, current: completed, total: this.total });
    const wanted = Math.min(this.total - completed, this.concurrent);
    const ad = String(this.concurrent).length;
    out.push({ id: 'active tasks', action: `${pad(activeTasks, ad)} out of ${pad(wanted, ad)} tasks` });
  }

  update(_s: ApiService, tasks: readonly ApiTask[], _a: ReadonlySet<string>, _r: boolean, out: ProgressMsg[]): boolean {
    if (!this.initialized) {
      this.overall(out, 0, 0);
      if (this.total <= MAX_BARS) for (let i = 1; i <= this.total; i++) out.push({ id: `${i}/${this.total}`, action: ' ' });
      this.initialized = true;
    }
    const bySlot = new Map<number, ApiTask>();
    for (const t of tasks) {
      if ((t.JobIteration?.Index ?? 0) !== this.iteration || !num(t.DesiredState) || !num(t.Status.State)) continue;
      const cur = bySlot.get(t.Slot ?? 0);
      if (!cur || num(cur.Status.State) > num(t.Status.State)) bySlot.set(t.Slot ?? 0, t);
    }
    let activeTasks = 0;
    let complete = 0;
    // The Go code walks slots 0..n-1 of its map; a missing slot reads as an empty task.
    for (let i = 0; i < bySlot.size; i++) {
      const t = bySlot.get(i);
      if (t && this.total <= MAX_BARS) {
        const id = `${(t.Slot ?? 0) + 1}/${this.total}`;
        out.push(t.Status.Err ? { id, action: truncError(t.Status.Err) } : stateBar(id, t.Status.State, MAX_JOB_PROGRESS));
      } else if (!t && this.total <= MAX_BARS) out.push({ id: `1/${this.total}`, action: ''.padEnd(LONGEST_STATE), current: 0, total: MAX_JOB_PROGRESS });
      if (num(t?.Status.State) < NUMBERED.complete!) activeTasks++;
      if (t?.Status.State === 'complete') complete++;
    }
    this.overall(out, activeTasks, complete);
    return complete === this.total;
  }
}

class GlobalJob implements Updater {
  private initialized = false;
  private total = 0;
  private nodes = new Set<string>();

  private overall(out: ProgressMsg[], complete: number): void {
    out.push({ id: 'job progress', action: `${pad(complete, String(this.total).length)} out of ${this.total} complete`, current: complete, total: this.total });
  }

  update(s: ApiService, tasks: readonly ApiTask[], active: ReadonlySet<string>, _r: boolean, out: ProgressMsg[]): boolean {
    const iteration = s.JobStatus?.JobIteration.Index ?? 0;
    if (!this.initialized) {
      if (tasks.length === 0 && active.size !== 0) {
        out.push({ id: 'job progress', action: 'waiting for tasks' });
        return false;
      }
      for (const t of tasks) if ((t.JobIteration?.Index ?? 0) === iteration) this.nodes.add(t.NodeID ?? '');
      this.total = this.nodes.size;
      this.overall(out, 0);
      this.initialized = true;
    }
    const byNode = new Map<string, ApiTask>();
    for (const t of tasks) {
      if ((t.JobIteration?.Index ?? 0) !== iteration || !this.nodes.has(t.NodeID ?? '')) continue;
      const cur = byNode.get(t.NodeID ?? '');
      if (!cur || num(cur.Status.State) > num(t.Status.State)) byNode.set(t.NodeID ?? '', t);
    }
    let complete = 0;
    for (const t of byNode.values()) {
      if (this.total <= MAX_BARS) out.push(t.Status.Err ? { id: t.NodeID ?? '', action: truncError(t.Status.Err) } : stateBar(t.NodeID ?? '', t.Status.State, MAX_JOB_PROGRESS));
      if (t.Status.State === 'complete') complete++;
    }
    this.overall(out, complete);
    return complete === this.total;
  }
}

function updaterFor(s: ApiService): Updater {
  const m = s.Spec.Mode;
  if (m.Replicated) return new Replicated();
  if (m.Global) return new Global();
  if (m.ReplicatedJob) return new ReplicatedJob(s);
  if (m.GlobalJob) return new GlobalJob();
  throw new Error('unrecognized service mode');
}

/** What one poll produced: messages to print, and whether the wait ended (with an error or not). */
export interface Step {
  out: ProgressMsg[];
  /** The wait is over (converged, job complete, or an update that had already completed). */
  done?: boolean;
  /** The wait failed with this text (`service update paused: …`). */
  error?: string;
}

const DEFAULT_MONITOR_NS = 5e9;

/**
 * One `ServiceProgress` run. Each poll: `service(s, nowMs)` first; unless that ended the wait, then
 * `tasks(upToDateTasks, activeNodeIds, nowMs)`. `ref` is what the final "Service … converged" names
 * (the ID for create, what the user typed for update/rollback/scale).
 */
export class ServiceProgress {
  private updater: Updater | undefined;
  private converged = false;
  private convergedAt: number | undefined;
  private monitorMs = DEFAULT_MONITOR_NS / 1e6;
  private rollback = false;
  private closing: ProgressMsg | undefined;
  private svc: ApiService | undefined;

  constructor(private readonly ref: string) {}

  service(s: ApiService, nowMs: number): Step {
    const out: ProgressMsg[] = [];
    this.svc = s;
    if (s.Spec.UpdateConfig?.Monitor) this.monitorMs = s.Spec.UpdateConfig.Monitor / 1e6;
    this.updater ??= updaterFor(s);
    const us = s.UpdateStatus;
    switch (us?.State) {
      case 'updating':
        this.rollback = false;
        break;
      case 'completed':
        if (!this.converged) return { out, done: true };
        break;
      case 'paused':
        return { out, error: `service update paused: ${us.Message ?? ''}` };
      case 'rollback_started':
        if (!this.rollback && us.Message) out.push({ id: 'rollback', action: us.Message });
        this.rollback = true;
        break;
      case 'rollback_paused':
        return { out, error: `service rollback paused: ${us.Message ?? ''}` };
      case 'rollback_completed':
        if (!this.converged) this.closing = { id: 'rollback', message: us.Message ?? '' };
        this.rollback = true;
        break;
    }
    if (this.converged && this.convergedAt !== undefined && nowMs - this.convergedAt >= this.monitorMs) {
      out.push({ id: 'verify', action: `Service ${this.ref} converged` });
      if (this.closing) out.push(this.closing);
      return { out, done: true };
    }
    return { out };
  }

  tasks(tasks: readonly ApiTask[], activeNodes: ReadonlySet<string>, nowMs: number): Step {
    const out: ProgressMsg[] = [];
    const s = this.svc!;
    this.converged = this.updater!.update(s, tasks, activeNodes, this.rollback, out);
    if (this.converged) {
      if (s.JobStatus) {
        out.push({ id: '', message: 'job complete' });
        return { out, done: true };
      }
      this.convergedAt ??= nowMs;
      const wait = this.monitorMs - (nowMs - this.convergedAt);
      // Go computes wait/time.Second+1 a few nanoseconds after convergedAt, so a whole number of seconds left
      // still reads as that number ("Waiting 5 seconds" first, not 6).
      if (wait >= 0) out.push({ id: 'verify', action: `Waiting ${wait > 0 ? Math.ceil(wait / 1000) : 1} seconds to verify that tasks are stable...` });
    } else {
      if (this.convergedAt !== undefined) out.push({ id: 'verify', action: 'Detected task failure' });
      this.convergedAt = undefined;
    }
    return { out };
  }
}
