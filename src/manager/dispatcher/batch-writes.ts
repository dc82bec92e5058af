// The dispatcher's store writes, batched: the node registrations of new sessions, down marks and task status
// reports that arrive together go out in one store transaction (one Raft commit), at most one per `batchMs` and
// a lone one at once (lib/batching.ts), as swarmkit batches its node and task updates. Store writes are
// serialized: one per session or per report made 1,000 nodes reconnecting to a new leader wait a commit apiece,
// and 300 nodes expiring at once were 300 writes the sessions queued behind.
import type { SessionRequest, TaskStatusUpdate } from '../../types';
import { MAX_TASKS_PER_WRITE, type MemoryStore } from '../../store';
import type { Clock } from '../../lib/ports';
import { isoTime } from '../../lib/time';
import { batchDelay } from '../../lib/batching';
import { coalesceUpdates, judgeStatusUpdate, withStatus } from './core/status';
import { registeredNode } from './core/registration';
import type { DispatcherLogger } from './logger';

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface PendingStatus {
  nodeId: string;
  update: TaskStatusUpdate;
  waiters: Waiter[];
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
      for (const u of coalesceUpdates(updates)) {
        const prev = this.statuses.get(u.taskId);
        // to the end: a write takes the oldest reports first, and this call's last entry (its waiter's)
        // comes after all of its others, so a write that holds it holds the whole call
        this.statuses.delete(u.taskId);
        this.statuses.set(u.taskId, { nodeId, update: u, waiters: prev?.waiters ?? [] });
      }
      // One waiter per call, attached to the last entry of this call (resolved with the batch).
      this.statuses.get(updates[updates.length - 1]!.taskId)!.waiters.push({ resolve, reject });
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
   * Writes every pending registration, down mark and status report in one store transaction, after the
   * one before is in the log; resolves once committed (never rejects: the waiters see a failure).
   */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const run = async (): Promise<Promise<void> | undefined> => {
      if (this.statuses.size === 0 && this.registrations.size === 0 && this.downs.size === 0) return undefined;
      this.lastFlushAt = this.o.clock.now();
      // At most MAX_TASKS_PER_WRITE objects a write, the oldest first; the rest goes in the next one (a
      // leader that fell behind collected more than one Raft entry may hold, and the whole batch failed).
      let room = MAX_TASKS_PER_WRITE;
      const nodes = take(this.registrations, room).map(([, r]) => r);
      room -= nodes.length;
      const downs = take(this.downs, room);
      room -= downs.length;
      const statuses = take(this.statuses, room).map(([, p]) => p);
      if (this.statuses.size + this.registrations.size + this.downs.size > 0) this.schedule();
      const waiters = [...nodes.flatMap((r) => r.waiters), ...downs.flatMap(([, d]) => d.waiters), ...statuses.flatMap((p) => p.waiters)];
      try {
        const now = isoTime(this.o.clock.now());
        // In the log is enough to take the next batch (MemoryStore.write); the reporters wait for the commit.
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
            // not copied: withStatus makes the new version, which tx.update copies
            const task = tx.shared.get('task', p.update.taskId);
            const verdict = judgeStatusUpdate(task, p.nodeId, p.update);
            if (verdict !== 'apply') {
              if (verdict !== 'unchanged') this.o.log?.debug({ taskId: p.update.taskId, verdict }, 'dispatcher: status update ignored');
              continue;
            }
            tx.update('task', withStatus(task!, p.update, now));
          }
        });
        return applied.then(
          () => {
            for (const w of waiters) w.resolve();
          },
          (err: unknown) => this.failed(err, waiters),
        );
      } catch (err) {
        this.failed(err, waiters);
        return undefined;
      }
    };
    const proposed = this.flushing.then(run);
    this.flushing = proposed.then(() => undefined);
    return proposed.then((committed) => committed);
  }

  private failed(err: unknown, waiters: readonly { reject: (e: unknown) => void }[]): void {
    this.o.log?.warn({ err }, 'dispatcher: session and status batch write failed');
    for (const w of waiters) w.reject(err);
  }
}

/** Removes and returns the first `n` entries of `m` (insertion order). */
function take<K, V>(m: Map<K, V>, n: number): [K, V][] {
  const out: [K, V][] = [];
  for (const e of m) {
    if (out.length >= n) break;
    out.push(e);
  }
  for (const [k] of out) m.delete(k);
  return out;
}
