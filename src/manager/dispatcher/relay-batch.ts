// A relay's calls of many nodes in one: the heartbeats and status reports its agents send, gathered and
// sent to the leader as one call a batch (RelayedHeartbeats, RelayedTaskStatus), each node's answer or
// error handed back to its own call. A relay with 600 agents made 120 heartbeat calls a second and one
// status call per agent and report batch, each a gRPC call on both the relay's connection and the leader:
// relaying cost the followers more CPU a task than the leader (issue 15, scale9).
import { batchDelay } from '../../lib/batching';
import { parseErrorReason, ShoalError, type ErrorKind } from '../../lib/errors';
import type { RelayedResult } from '../../rpc';

interface Waiting<E, R> {
  entry: E;
  /** ms since the epoch by which the node's own call gives up. */
  deadline: number;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export interface RelayBatcherOptions<E, R> {
  /** At most one batch per interval while busy; a lone call goes on the next turn (lib/batching.ts). */
  intervalMs: number;
  /**
   * Instead: a batch waits this long (ms) after its first call, gathering the calls that come meanwhile. For
   * calls nobody waits on (heartbeats: the node's TTL is three periods), so that a relay's agents cost the
   * leader one call per gathering rather than one per heartbeat.
   */
  gatherMs?: number;
  maxEntries: number;
  /** Sends one batch, within `timeoutMs`; answers entry by entry, in order. */
  send: (entries: E[], timeoutMs: number) => Promise<RelayedResult<R>[]>;
  /** What a failed send becomes for each entry (the relay drops a leader's address from it). */
  failure?: (e: unknown) => unknown;
}

const KINDS: ReadonlySet<string> = new Set<ErrorKind>(['NotFound', 'InvalidArgument', 'Conflict', 'Unavailable', 'FailedPrecondition', 'PermissionDenied', 'Unimplemented', 'Internal']);

/** An entry's error as a batch carries it (the leader's side): kind, message and reason, no leader's address. */
export function failedEntry(e: unknown): { err: { kind: string; message: string; reason?: string } } {
  if (e instanceof ShoalError) return { err: { kind: e.kind, message: e.message, ...(e.reason ? { reason: e.reason } : {}) } };
  return { err: { kind: 'Internal', message: e instanceof Error ? e.message : String(e) } };
}

/** The same error back as a ShoalError (the relay's side). */
export function entryError(err: { kind: string; message: string; reason?: string }): ShoalError {
  const kind = (KINDS.has(err.kind) ? err.kind : 'Internal') as ErrorKind;
  return new ShoalError(kind, String(err.message), parseErrorReason(err.reason));
}

export class RelayBatcher<E, R> {
  private queue: Waiting<E, R>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastSentAt: number | undefined;

  constructor(private readonly o: RelayBatcherOptions<E, R>) {}

  /** The leader's answer for `entry`, or its error; `deadline` is the node's own (ms since the epoch). */
  add(entry: E, deadline: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ entry, deadline, resolve, reject });
      if (this.queue.length >= this.o.maxEntries) this.flush();
      else if (!this.timer) {
        this.timer = setTimeout(() => this.flush(), this.o.gatherMs ?? batchDelay(Date.now(), this.lastSentAt, this.o.intervalMs));
      }
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.queue.splice(0, this.o.maxEntries);
    if (batch.length === 0) return;
    const now = Date.now();
    this.lastSentAt = now;
    // the batch answers before the earliest of its callers gives up
    const timeoutMs = Math.max(1, Math.min(...batch.map((b) => b.deadline)) - now);
    this.o.send(
      batch.map((b) => b.entry),
      timeoutMs,
    ).then(
      (results) => {
        batch.forEach((b, i) => {
          const r = results[i];
          if (!r) b.reject(new ShoalError('Internal', 'dispatcher relay: the leader answered no result for this call'));
          else if ('ok' in r) b.resolve(r.ok);
          else b.reject(entryError(r.err));
        });
      },
      (e: unknown) => {
        const err = this.o.failure ? this.o.failure(e) : e;
        for (const b of batch) b.reject(err);
      },
    );
    if (this.queue.length > 0) this.timer = setTimeout(() => this.flush(), this.o.intervalMs);
  }
}
