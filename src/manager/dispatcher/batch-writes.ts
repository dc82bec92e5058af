// The dispatcher's store writes, batched: the node registrations of new sessions, down marks and task status
// reports that arrive together go out in one store transaction (one Raft commit), at most one per `batchMs` and
// a lone one at once (lib/batching.ts), as swarmkit batches its node and task updates. One write per session or
// per report made 1,000 nodes reconnecting to a new leader wait a commit apiece, and 300 nodes expiring at once
// were 300 writes the sessions queued behind. A write goes out once the one before is in the log
// (MemoryStore.write): the reporters wait for its commit, the next batch does not.
import type { SessionRequest, TaskStatusUpdate } from '../../types';
import { MAX_TASKS_PER_WRITE, type MemoryStore } from '../../store';
import type { Clock } from '../../lib/ports';
import { isoTime } from '../../lib/time';
import { batchDelay } from '../../lib/batching';
import { coalesceUpdates, judgeStatusUpdate, withStatus } from './core/status';
import { registeredNode } from './core/registration';
import type { DispatcherLogger } from './logger';

/**
 * What one write carries at most, counting a task as 1 and a node (descriptions, TLS info) as 4: a Raft
 * entry holds at most 1.5 MiB (consensus's MAX_TRANSACTION_BYTES) and a task is ≈ 1.5 KiB of JSON. A burst
 * larger than that (1,000 nodes going down at once, the reports that piled up behind a slow commit) goes
 * out in several writes: as one, it was refused whole ("raft message is too large") and every report in it
 * failed.
 */
export const MAX_WRITE_WEIGHT = MAX_TASKS_PER_WRITE;
const NODE_WEIGHT = 4;
/** Nodes one write carries at most (a node weighs NODE_WEIGHT tasks). */
export const MAX_NODES_PER_WRITE = MAX_WRITE_WEIGHT / NODE_WEIGHT;

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** One reportStatus call: settled once every report in it is written, rejected if a write of one of them failed. */
class ReportCall {
  private err: unknown;
  constructor(
    private left: number,
    private readonly w: Waiter,
  ) {
    if (left === 0) w.resolve();
  }

  /** One of its reports was written (or, with `err`, was not). */
  settle(err?: unknown): void {
    if (err !== undefined && this.err === undefined) this.err = err;
    if (--this.left > 0) return;
    if (this.err === undefined) this.w.resolve();
    else this.w.reject(this.err);
  }
}

interface PendingStatus {
  nodeId: string;
  update: TaskStatusUpdate;
  /** The calls that reported this task since the last write (a later report replaces an earlier one). */
  calls: ReportCall[];
}

export interface BatchWritesOptions {
  store: MemoryStore;
  clock: Clock;
  batchMs: number;
  log?: DispatcherLogger;
  /** True while the node has a session: a node that registered again before its down mark is written stays up. */
  hasSession: (nodeId: string) => boolean;
}

export class DispatcherBatchWrites {
  /** Task ID → its latest reported status. */
  private statuses = new Map<string, PendingStatus>();
  /** Node ID → its latest session's registration. */
  private registrations = new Map<string, { req: SessionRequest; waiters: Waiter[] }>();
  /** Node ID → the message it is to be marked down with. */
  private downs = new Map<string, { message: string; waiters: Waiter[] }>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** When the last batch was written (clock ms). */
  private lastFlushAt: number | undefined;

  constructor(private readonly o: BatchWritesOptions) {}

  /** Registers (or updates) a session's node; settles once written. */
  register(req: SessionRequest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiters = this.registrations.get(req.nodeId)?.waiters ?? [];
      waiters.push({ resolve, reject });
      this.registrations.set(req.nodeId, { req, waiters });
      this.schedule();
    });
  }

  /** Reports of one call from `nodeId`'s agent; settles once written (a report's later one replaces it). */
  reportStatus(nodeId: string, updates: TaskStatusUpdate[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      const coalesced = coalesceUpdates(updates);
      // a burst may be written in several writes: the call settles with the last of its reports
      const call = new ReportCall(coalesced.length, { resolve, reject });
      for (const u of coalesced) {
        const prev = this.statuses.get(u.taskId);
        this.statuses.set(u.taskId, { nodeId, update: u, calls: [...(prev?.calls ?? []), call] });
      }
    });
    this.schedule();
    return done;
  }

  /** Marks the node down (unless it has a session again by then); settles once written, a failure only logged. */
  markDown(nodeId: string, message: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const failed = (err: unknown): void => {
        this.o.log?.error({ err, nodeId }, 'dispatcher: marking node down failed');
        resolve();
      };
      const waiters = this.downs.get(nodeId)?.waiters ?? [];
      waiters.push({ resolve, reject: failed });
      this.downs.set(nodeId, { message, waiters });
      this.schedule();
    });
  }

  /** A lone write (a failure report, a session) goes at once; a burst at most once per `batchMs` (lib/batching.ts). */
  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        void this.flush();
      },
      batchDelay(this.o.clock.now(), this.lastFlushAt, this.o.batchMs),
    );
  }

  /**
   * Writes every pending registration, down mark and status report, in writes of at most MAX_WRITE_WEIGHT
   * (after a running flush); resolves once they are committed (never rejects: the waiters see a failure).
   */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const committed: Promise<void>[] = [];
    const run = async () => {
      while (this.statuses.size > 0 || this.registrations.size > 0 || this.downs.size > 0) committed.push((await this.writeSome()).settled);
    };
    const proposed = this.flushing.then(run, run);
    this.flushing = proposed;
    return proposed.then(() => Promise.all(committed)).then(() => undefined);
  }

  /**
   * One write: registrations first, then down marks, then status reports, up to MAX_WRITE_WEIGHT; the rest
   * stays pending. Resolves once the write is in the log, with `settled`, which resolves (never rejects) once
   * its waiters are settled.
   */
  private async writeSome(): Promise<{ settled: Promise<void> }> {
    this.lastFlushAt = this.o.clock.now();
    let room = MAX_WRITE_WEIGHT;
    const nodes = takeFirst(this.registrations, room / NODE_WEIGHT).map(([, r]) => r);
    room -= nodes.length * NODE_WEIGHT;
    const downs = takeFirst(this.downs, room / NODE_WEIGHT);
    room -= downs.length * NODE_WEIGHT;
    const statuses = takeFirst(this.statuses, room).map(([, p]) => p);
    const waiters = [...nodes.flatMap((r) => r.waiters), ...downs.flatMap(([, d]) => d.waiters)];
    const calls = statuses.flatMap((p) => p.calls);
    try {
      const now = isoTime(this.o.clock.now());
      const { applied } = await this.o.store.write((tx) => {
        for (const { req } of nodes) {
          const existing = tx.get('node', req.nodeId);
          const node = registeredNode(existing, req, now);
          if (node && existing) tx.update('node', node);
          else if (node) tx.create('node', node);
        }
        for (const [nodeId, { message }] of downs) {
          if (this.o.hasSession(nodeId)) continue;
          const n = tx.get('node', nodeId);
          if (!n || n.Status.State === 'down') continue;
          n.Status = { ...n.Status, State: 'down', Message: message };
          n.UpdatedAt = now;
          tx.update('node', n);
        }
        for (const p of statuses) {
          // not copied: withStatus makes the new version; tx.update copies its new parts only (storedVersion)
          const task = tx.shared.get('task', p.update.taskId);
          const verdict = judgeStatusUpdate(task, p.nodeId, p.update);
          if (verdict !== 'apply') {
            if (verdict !== 'unchanged') this.o.log?.debug({ taskId: p.update.taskId, verdict }, 'dispatcher: status update ignored');
            continue;
          }
          tx.update('task', withStatus(task!, p.update, now));
        }
      });
      const settled = applied.then(
        () => {
          for (const w of waiters) w.resolve();
          for (const c of calls) c.settle();
        },
        (err: unknown) => this.failed(err, waiters, calls),
      );
      return { settled };
    } catch (err) {
      this.failed(err, waiters, calls);
      return { settled: Promise.resolve() };
    }
  }

  private failed(err: unknown, waiters: readonly Waiter[], calls: readonly ReportCall[]): void {
    this.o.log?.warn({ err }, 'dispatcher: session and status batch write failed');
    for (const w of waiters) w.reject(err);
    for (const c of calls) c.settle(err);
  }
}

/** Removes and returns the first `n` entries of a map (at least one if it has any, so a write always makes progress). */
function takeFirst<K, V>(m: Map<K, V>, n: number): [K, V][] {
  const out: [K, V][] = [];
  for (const e of m) {
    if (out.length >= Math.max(1, Math.floor(n))) break;
    out.push(e);
  }
  for (const [k] of out) m.delete(k);
  return out;
}
