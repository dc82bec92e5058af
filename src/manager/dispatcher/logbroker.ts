// The log broker (swarmkit's LogBroker, reduced): a manager asks for the logs of tasks that run on
// other nodes by publishing a subscription to the node through its dispatcher session
// (LogSubscriptions stream); the node answers on a PublishLogs client stream with the lines and a
// `close` marker. Follow subscriptions stay open until the subscriber cancels; if the node's
// publisher goes away without `close` (reconnect, cert renewal, restart) the subscription is
// delivered again when the node listens again, from the last line's time on.
import { randomBytes } from 'node:crypto';
import { AsyncQueue } from '../../rpc/queue';
import type { LogSubscriptionMessage, LogSubscriptionOptions, PublishLogsMessage, PublishedLogLine } from '../../rpc/protocol';
import { permissionDenied, unavailable } from '../../lib/errors';

/**
 * Bytes of a subscription's lines waiting for its reader. A node's publish stream carries many
 * subscriptions and cannot be paused for one, so a reader this far behind is dropped: its stream
 * fails with a message after the lines already queued, and the node is told to stop.
 */
export const MAX_SUBSCRIPTION_BACKLOG_BYTES = 4 << 20;

export interface BrokerLogLine {
  stream: 'stdout' | 'stderr';
  time: number;
  data: Buffer;
}

interface Subscription {
  id: string;
  nodeId: string;
  taskIds: Set<string>;
  options: LogSubscriptionOptions;
  out: AsyncQueue<BrokerLogLine>;
  /** Bytes in `out` not yet taken by the reader. */
  backlog: number;
  /** True while a listener has it and no publisher has given up on it. */
  delivered: boolean;
  /** Publish streams currently carrying it. */
  publishers: number;
  /** For re-delivery: time of the last line passed on, and the lines at exactly that time (dedup). */
  lastTime: number;
  atLastTime: Set<string>;
  resumeFrom?: number;
  seenAtResume: Set<string>;
  timer?: NodeJS.Timeout;
}

/** A node's subscriptions as its assignment stream reads them (`LogBroker.feed`). */
export interface LogSubscriptionFeed {
  /** The next message; one call at a time (a pending one is kept until it settles). */
  next(): Promise<IteratorResult<LogSubscriptionMessage>>;
  /** Every message waiting now. */
  drain(): LogSubscriptionMessage[];
  /** The stream ended: the subscriptions in flight wait for the node's next listener. */
  close(): void;
}

export interface LogBrokerOptions {
  /** A non-follow subscription ends if its node sends nothing (not even `close`) for this long. Default 10 s. */
  idleTimeoutMs?: number;
  /** A non-follow subscription for a node that is not listening ends after this long. Default 3 s. */
  connectWaitMs?: number;
}

export class LogBroker {
  private listeners = new Map<string, Set<AsyncQueue<LogSubscriptionMessage>>>();
  private subs = new Map<string, Subscription>();
  private readonly idleMs: number;
  private readonly connectWaitMs: number;

  constructor(opts: LogBrokerOptions = {}) {
    this.idleMs = opts.idleTimeoutMs ?? 10_000;
    this.connectWaitMs = opts.connectWaitMs ?? 3_000;
  }

  /** Lines of `taskIds` (all on `nodeId`) until the node closes the subscription or `signal` aborts. */
  subscribe(nodeId: string, taskIds: string[], options: LogSubscriptionOptions, signal: AbortSignal): AsyncIterable<BrokerLogLine> {
    const sub: Subscription = {
      id: randomBytes(12).toString('hex'),
      nodeId,
      taskIds: new Set(taskIds),
      options,
      out: new AsyncQueue<BrokerLogLine>(),
      backlog: 0,
      delivered: false,
      publishers: 0,
      lastTime: 0,
      atLastTime: new Set(),
      seenAtResume: new Set(),
    };
    this.subs.set(sub.id, sub);
    const onAbort = () => this.finish(sub, true);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    this.deliver(sub);
    if (!sub.delivered && !options.follow) this.arm(sub, this.connectWaitMs);
    const cleanup = () => {
      signal.removeEventListener('abort', onAbort);
      this.finish(sub, true);
    };
    return {
      async *[Symbol.asyncIterator]() {
        try {
          for await (const l of sub.out) {
            sub.backlog -= l.data.length;
            yield l;
          }
        } finally {
          cleanup();
        }
      },
    };
  }

  /**
   * The subscriptions for `nodeId`'s tasks on a LogSubscriptions stream of its own, as long as the node
   * listens: an agent of the previous release (a current one reads them on its assignment stream, `feed`).
   */
  listen(nodeId: string, signal: AbortSignal): AsyncIterable<LogSubscriptionMessage> {
    const q = this.addListener(nodeId);
    const done = () => this.removeListener(nodeId, q);
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
    return {
      async *[Symbol.asyncIterator]() {
        try {
          yield* q;
        } finally {
          done();
        }
      },
    };
  }

  /**
   * The subscriptions for `nodeId`'s tasks as the node's assignment stream reads them: those open now at
   * once, then each as it comes, until `close` (the stream's end).
   */
  feed(nodeId: string): LogSubscriptionFeed {
    const q = this.addListener(nodeId);
    const it = q[Symbol.asyncIterator]();
    return { next: () => it.next(), drain: () => q.drain(), close: () => this.removeListener(nodeId, q) };
  }

  private addListener(nodeId: string): AsyncQueue<LogSubscriptionMessage> {
    const q = new AsyncQueue<LogSubscriptionMessage>();
    let set = this.listeners.get(nodeId);
    if (!set) this.listeners.set(nodeId, (set = new Set()));
    set.add(q);
    for (const sub of this.subs.values()) if (sub.nodeId === nodeId) q.push(this.message(sub));
    for (const sub of this.subs.values()) if (sub.nodeId === nodeId && !sub.delivered) this.markDelivered(sub);
    return q;
  }

  private removeListener(nodeId: string, q: AsyncQueue<LogSubscriptionMessage>): void {
    q.end();
    const s = this.listeners.get(nodeId);
    s?.delete(q);
    if (s && s.size === 0) this.listeners.delete(nodeId);
    // Subscriptions in flight on this node stay; they are delivered again to its next listener.
  }

  /** One PublishLogs stream from `nodeId` (the caller's certificate). */
  async publish(nodeId: string, msgs: AsyncIterable<PublishLogsMessage>): Promise<void> {
    const carried = new Set<Subscription>();
    try {
      for await (const m of msgs) {
        const sub = m && typeof m.subscriptionId === 'string' ? this.subs.get(m.subscriptionId) : undefined;
        if (!sub) continue; // cancelled meanwhile: the node learns it from the close message
        if (sub.nodeId !== nodeId) throw permissionDenied(`Permission denied: subscription ${m.subscriptionId} is not for node ${nodeId}`);
        if (!carried.has(sub)) {
          carried.add(sub);
          sub.publishers++;
        }
        if (!sub.options.follow) this.arm(sub, this.idleMs);
        for (const l of Array.isArray(m.lines) ? m.lines : []) this.pass(sub, l);
        if (m.close) {
          carried.delete(sub);
          sub.publishers--;
          this.finish(sub, false);
        }
      }
    } finally {
      for (const sub of carried) {
        sub.publishers--;
        if (!this.subs.has(sub.id)) continue;
        // The publisher went away without `close`: a follow subscription waits for the node's
        // next listener (from the last line on); a plain one is as complete as it will get.
        if (sub.options.follow) {
          sub.delivered = false;
          if (sub.lastTime) {
            sub.resumeFrom = sub.lastTime;
            sub.seenAtResume = new Set(sub.atLastTime);
          }
          sub.options = { ...sub.options, tail: 'all', since: sub.lastTime ? sub.lastTime / 1000 : sub.options.since };
          this.deliver(sub);
        } else this.finish(sub, false);
      }
    }
  }

  /** Open subscriptions (for tests and diagnostics). */
  get size(): number {
    return this.subs.size;
  }

  /** Whether a stream of `nodeId`'s listens now (for tests and diagnostics). */
  listening(nodeId: string): boolean {
    return this.listeners.has(nodeId);
  }

  private pass(sub: Subscription, l: PublishedLogLine): void {
    if (!l || !sub.taskIds.has(l.taskId)) return;
    const data = Buffer.from(l.data ?? new Uint8Array());
    const time = Number(l.time) || 0;
    const key = `${l.stream}\0${data.toString('base64')}`;
    // After a re-delivery the node starts again at the last line's time: skip what was passed on.
    if (sub.resumeFrom !== undefined) {
      if (time < sub.resumeFrom) return;
      if (time === sub.resumeFrom && sub.seenAtResume.has(key)) return;
      if (time > sub.resumeFrom) sub.resumeFrom = undefined;
    }
    if (time > sub.lastTime) {
      sub.lastTime = time;
      sub.atLastTime = new Set([key]);
    } else if (time === sub.lastTime) sub.atLastTime.add(key);
    sub.out.push({ stream: l.stream === 'stderr' ? 'stderr' : 'stdout', time, data });
    sub.backlog += data.length;
    if (sub.backlog > MAX_SUBSCRIPTION_BACKLOG_BYTES) {
      sub.out.fail(unavailable(`logs: reader too slow, more than ${MAX_SUBSCRIPTION_BACKLOG_BYTES} bytes were waiting; stream dropped`));
      this.finish(sub, true);
    }
  }

  private message(sub: Subscription): LogSubscriptionMessage {
    return { id: sub.id, taskIds: [...sub.taskIds], options: sub.options };
  }

  private deliver(sub: Subscription): void {
    const set = this.listeners.get(sub.nodeId);
    if (!set || set.size === 0) return;
    for (const q of set) q.push(this.message(sub));
    this.markDelivered(sub);
  }

  private markDelivered(sub: Subscription): void {
    sub.delivered = true;
    if (!sub.options.follow) this.arm(sub, this.idleMs);
  }

  private arm(sub: Subscription, ms: number): void {
    if (sub.timer) clearTimeout(sub.timer);
    sub.timer = setTimeout(() => this.finish(sub, true), ms);
    sub.timer.unref?.();
  }

  /** Ends a subscription; `cancel` also tells the node to stop. */
  private finish(sub: Subscription, cancel: boolean): void {
    if (this.subs.get(sub.id) !== sub) return;
    this.subs.delete(sub.id);
    if (sub.timer) clearTimeout(sub.timer);
    sub.out.end();
    if (cancel) for (const q of this.listeners.get(sub.nodeId) ?? []) q.push({ id: sub.id, taskIds: [], options: sub.options, close: true });
  }
}
