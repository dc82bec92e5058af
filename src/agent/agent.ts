import { AGENT_MAX_BACKOFF_MS, type DispatcherApi, type LogSubscriptionMessage, type NodeDescription, type NodeNetworkView, type TaskStatusUpdate, type Task, type TLSInfo } from '../types';
import type { LogCapableDispatcher } from './remote-dispatcher';
import type { Executor, ExecutorDescription, LogLine, LogOptions, TaskController } from './executor/types';
import type { Clock } from '../lib/ports';
import { hasReason, isKind, leaderHintOf, notFound, ShoalError } from '../lib/errors';
import { runInBackground } from '../sys/loop-guard';
import { sleepUnlessAborted } from '../sys/sleep';
import { batchDelay } from '../lib/batching';
import { untilAborted } from '../lib/until-aborted';
import { Worker } from './worker';
import { errText, type AgentLogger } from './task-manager';

// The agent role's composition root: one session at a time with a dispatcher (heartbeats,
// assignment stream, batched status reports), reconnecting with capped exponential backoff; the
// worker below it runs the tasks and keeps them running while no manager is reachable.

export interface AgentOptions {
  dataDir: string;
  executor: Executor;
  nodeId: string;
  /** This node's address as other nodes reach it (host part of the advertise address). */
  addr: string;
  /** How to reach a dispatcher; called again for every (re)connection. */
  dispatcher: () => Promise<DispatcherApi> | DispatcherApi;
  clock: Clock;
  logger?: AgentLogger;
  /**
   * At most one updateTaskStatus call per this many ms (latest per task wins): an update after a quiet
   * spell goes out at once, the ones that follow within the interval wait for its end (lib/batching.ts);
   * while a call is in flight further updates collect and go out together after it. Default 10.
   */
  statusBatchMs?: number;
  /** Reconnect backoff: first delay and cap (ms). Defaults 100 and AGENT_MAX_BACKOFF_MS (5000). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Random numbers in [0,1) for the backoff jitter. Default Math.random. */
  random?: () => number;
  /** Delay before retrying a failed shutdown/remove of a task (ms). */
  retryMs?: number;
  /** Status changes reach the node's state file at most this often (ms; WorkerOptions.saveDelayMs, default 100). */
  stateSaveMs?: number;
  /** Drain hold of mesh backends before their stop (ms; `--mesh-drain-ms`). */
  drainDelayMs?: number;
  /** This node's TLS facts (its certificate's issuer, its trust root), reported with every session. */
  tlsInfo?: () => Promise<TLSInfo | undefined>;
  /**
   * Receives the node's network view (the routing mesh table) whenever the dispatcher sends a new one; resolves
   * when the node's routing mesh applied it (then the dispatcher is told: drains wait for every node's word).
   */
  onNetworkView?: (view: NodeNetworkView) => void | Promise<void>;
}

function logCapable(api: DispatcherApi): (DispatcherApi & LogCapableDispatcher) | null {
  const a = api as Partial<LogCapableDispatcher>;
  return typeof a.logSubscriptions === 'function' && typeof a.publishLogs === 'function' ? (api as DispatcherApi & LogCapableDispatcher) : null;
}

type LogSubscriptionLine = import('../rpc/protocol').PublishedLogLine;

interface ActiveSession {
  api: DispatcherApi;
  id: string;
  abort: AbortController;
}

export function nodeDescription(d: ExecutorDescription): NodeDescription {
  return {
    Hostname: d.hostname,
    Platform: { Architecture: d.architecture, OS: d.os },
    Resources: { NanoCPUs: d.nanoCPUs, MemoryBytes: d.memoryBytes },
    Engine: { EngineVersion: d.engineVersion, ...(d.engineLabels ? { Labels: d.engineLabels } : {}), ...(d.plugins ? { Plugins: d.plugins } : {}) },
  };
}

/** The backoff step a retry uses at most after a manager named the leader (100 ms × 2² = 400 ms with the defaults). */
const LEADER_HINT_MAX_STEP = 2;

/**
 * What the last session attempt learned of the managers: nothing (none answered, or the error says
 * nothing of leadership), that no leader is known (an election is under way), or where the leader is.
 */
export type ManagerAnswer = 'none' | 'no-leader' | 'leader-named';

/** Reads a failed session attempt's error: a refusal that names the leader, one that names none, or neither. */
export function managerAnswer(err: unknown): ManagerAnswer {
  if (leaderHintOf(err)) return 'leader-named';
  return hasReason(err, 'not-leader') || hasReason(err, 'no-leader') ? 'no-leader' : 'none';
}

/**
 * The delay before reconnect attempt `n` (0-based). When a manager named the leader, the next try
 * (which goes there) comes soon: after every manager was down the backoff has grown to its cap, and
 * sitting it out again can outlast the grace a new leader gives Unknown nodes, whose tasks would
 * then move. While managers answer that no leader is known, the backoff grows as for a manager that
 * cannot be reached: an election takes whole election timeouts, and 1,000 agents retrying every
 * 400 ms during one are ~2,500 TLS handshakes a second on the managers holding that election.
 */
export function reconnectDelay(n: number, answer: ManagerAnswer, initialMs: number, maxMs: number, random: number): number {
  return backoffDelay(answer === 'leader-named' ? Math.min(n, LEADER_HINT_MAX_STEP) : n, initialMs, maxMs, random);
}

/** The reconnect delay before attempt `n` (0-based): exponential, capped, with jitter in [½, 1] of it. */
export function backoffDelay(n: number, initialMs: number, maxMs: number, random: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(n, 30));
  return Math.round(base / 2 + (base / 2) * random);
}

export class Agent {
  private readonly worker: Worker;
  private readonly log?: AgentLogger;
  private session: ActiveSession | null = null;
  private pending = new Map<string, TaskStatusUpdate>();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing = false;
  /** When the last batch of status reports went out (clock ms). */
  private lastFlushAt: number | undefined;
  private loopDone: Promise<void> | null = null;
  private stopping = new AbortController();
  private started = false;

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.logger;
    this.worker = new Worker({
      dataDir: opts.dataDir,
      executor: opts.executor,
      clock: opts.clock,
      logger: opts.logger,
      retryMs: opts.retryMs,
      ...(opts.stateSaveMs !== undefined ? { saveDelayMs: opts.stateSaveMs } : {}),
      ...(opts.drainDelayMs !== undefined ? { drainDelayMs: opts.drainDelayMs } : {}),
      meshDrained: (taskId, waitMs) => this.meshDrained(taskId, waitMs),
      report: (u) => this.enqueue(u),
    });
  }

  /** Re-adopts persisted tasks, then connects (in the background; it keeps retrying). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = new AbortController();
    await this.worker.init();
    this.loopDone = this.loop();
  }

  /** Leaves every task running: stops driving them, sends what it can, ends the session. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.worker.close();
    if (this.session && this.pending.size > 0) {
      await Promise.race([this.flush(), sleepUnlessAborted(1000, this.session.abort.signal)]);
    }
    // Bounded and best effort: a manager that does not hear it treats the session's end as a crash.
    const s = this.session;
    if (s?.api.daemonStopping) await Promise.race([s.api.daemonStopping(s.id).catch(() => undefined), sleepUnlessAborted(1000, s.abort.signal)]);
    this.stopping.abort();
    this.session?.abort.abort();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    await this.loopDone;
  }

  /** True while a session with a dispatcher is open. */
  get connected(): boolean {
    return this.session !== null;
  }

  /** The assigned tasks with their local statuses. */
  tasks(): Task[] {
    return this.worker.tasks();
  }

  taskController(taskId: string): TaskController | undefined {
    return this.worker.taskController(taskId);
  }

  /** A task's output (also for finished tasks whose container/process still exists). */
  logs(taskId: string, opts: LogOptions, signal?: AbortSignal): AsyncIterable<LogLine> {
    const c = this.worker.taskController(taskId);
    if (!c) throw notFound(`task ${taskId} not found on this node`);
    return c.logs(opts, signal);
  }

  // ---- session loop ----

  private async loop(): Promise<void> {
    const initial = this.opts.backoffInitialMs ?? 100;
    const max = this.opts.backoffMaxMs ?? AGENT_MAX_BACKOFF_MS;
    const random = this.opts.random ?? Math.random;
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      /** What a refusing manager said of the leader (it sets how soon the next try comes). */
      let answer: ManagerAnswer = 'none';
      const abort = new AbortController();
      const onStop = () => abort.abort();
      this.stopping.signal.addEventListener('abort', onStop, { once: true });
      try {
        const api = await this.opts.dispatcher();
        const description = nodeDescription(await this.opts.executor.describe());
        const tls = await this.opts.tlsInfo?.().catch(() => undefined);
        if (tls) description.TLSInfo = tls;
        const info = await api.session({ nodeId: this.opts.nodeId, description, addr: this.opts.addr });
        if (abort.signal.aborted) break;
        attempt = 0;
        this.session = { api, id: info.sessionId, abort };
        this.log?.info({ sessionId: info.sessionId }, 'agent: session established');
        void this.heartbeats(api, info.sessionId, info.heartbeatPeriodMs, abort);
        const logApi = logCapable(api);
        const logs = logApi ? this.logSubscriptions(logApi, abort.signal) : undefined;
        // a manager of the previous release sends them on a stream of their own
        if (logApi && logs && !info.logSubscriptionsOnAssignments) void this.readLogSubscriptions(logApi, info.sessionId, logs, abort.signal);
        // The manager may have missed reports while we were away: send every task's latest status.
        for (const u of this.worker.statuses()) if (!this.pending.has(u.taskId)) this.pending.set(u.taskId, u);
        this.scheduleFlush();
        for await (const msg of untilAborted(api.assignments(info.sessionId, abort.signal), abort.signal)) {
          if (logs && Array.isArray(msg.logSubscriptions)) for (const sub of msg.logSubscriptions) logs(sub);
          if (msg.network) this.networkView(api, info.sessionId, msg.network, msg.networkVersion);
          await this.worker.assign(msg);
        }
        if (!this.stopping.signal.aborted) this.log?.warn({}, 'agent: assignment stream ended');
      } catch (err) {
        answer = managerAnswer(err);
        // the session starts over after a backoff; a bug (not a ShoalError) is logged with its stack
        if (!this.stopping.signal.aborted) this.log?.warn({ err: err instanceof ShoalError ? errText(err) : err }, 'agent: session failed');
      } finally {
        abort.abort();
        this.stopping.signal.removeEventListener('abort', onStop);
        if (this.session?.abort === abort) this.session = null;
      }
      if (this.stopping.signal.aborted) break;
      await sleepUnlessAborted(reconnectDelay(attempt++, answer, initial, max, random()), this.stopping.signal);
    }
  }

  /**
   * Ends the current session so a new one starts at once: new TLS credentials are used and the
   * node's description (with its TLS facts) is sent again, as after a certificate renewal.
   */
  reconnect(): void {
    this.session?.abort.abort();
  }

  // ---- remote log subscriptions ----

  /**
   * Serves the manager's log subscriptions for this session (tasks on this node only): the function takes
   * each subscription message, from the assignment stream or a LogSubscriptions stream; the session's end
   * stops every publisher.
   */
  private logSubscriptions(api: DispatcherApi & LogCapableDispatcher, session: AbortSignal): (sub: LogSubscriptionMessage) => void {
    const running = new Map<string, AbortController>();
    session.addEventListener('abort', () => {
      for (const ac of running.values()) ac.abort();
    }, { once: true });
    return (sub) => {
      if (session.aborted || !sub || typeof sub.id !== 'string') return;
      if (sub.close) {
        running.get(sub.id)?.abort();
        return;
      }
      if (running.has(sub.id)) return;
      const ac = new AbortController();
      running.set(sub.id, ac);
      runInBackground(
        'agent log publisher',
        this.publishSubscription(api, sub, ac.signal, session).finally(() => {
          if (running.get(sub.id) === ac) running.delete(sub.id);
        }),
        this.log,
      );
    };
  }

  /** The LogSubscriptions stream of a manager of the previous release, for the session's life. */
  private async readLogSubscriptions(api: LogCapableDispatcher, sessionId: string, serve: (sub: LogSubscriptionMessage) => void, session: AbortSignal): Promise<void> {
    try {
      for await (const sub of untilAborted(api.logSubscriptions(sessionId, session), session)) serve(sub);
    } catch (err) {
      if (!session.aborted) this.log?.warn({ err: errText(err) }, 'agent: log subscriptions stream failed');
    }
  }

  private async publishSubscription(api: LogCapableDispatcher, sub: LogSubscriptionMessage, cancelled: AbortSignal, session: AbortSignal): Promise<void> {
    const stop = AbortSignal.any([cancelled, session]);
    const pub = api.publishLogs(session);
    let failed = false;
    // Lines of all the subscription's tasks go out in order, one message per burst.
    let batch: LogSubscriptionLine[] = [];
    let sending: Promise<void> = Promise.resolve();
    const flush = () => {
      if (batch.length === 0) return;
      const lines = batch;
      batch = [];
      sending = sending.then(() => (failed ? undefined : pub.send({ subscriptionId: sub.id, lines }).catch(() => void (failed = true))));
    };
    const tasks = new Map(this.worker.tasks().map((t) => [t.ID, t]));
    const opts: LogOptions = { follow: !!sub.options?.follow, tail: sub.options?.tail ?? 'all', timestamps: !!sub.options?.timestamps, since: sub.options?.since };
    await Promise.all(
      (Array.isArray(sub.taskIds) ? sub.taskIds : []).map(async (id) => {
        const c = this.worker.taskController(id);
        if (!c) return;
        try {
          for await (const l of untilAborted(c.logs(opts, stop), stop)) {
            if (failed) return;
            batch.push({ taskId: id, serviceId: tasks.get(id)?.ServiceID ?? '', nodeId: this.opts.nodeId, stream: l.stream, time: l.time, data: l.data });
            if (batch.length === 1) queueMicrotask(flush);
            if (batch.length >= 256) {
              flush();
              await sending;
            }
          }
        } catch {
          // a task whose runtime object is gone has nothing to send
        }
      }),
    );
    flush();
    await sending;
    if (session.aborted || failed) {
      // No close marker: the manager re-delivers a follow subscription to our next session.
      pub.cancel();
      return;
    }
    try {
      await pub.send({ subscriptionId: sub.id, lines: [], close: true });
      pub.end();
      await pub.done;
    } catch {
      pub.cancel();
    }
  }

  /** Hands the view to the node's network layer; once its mesh applied it, acknowledges the view's number. */
  private networkView(api: DispatcherApi, sessionId: string, view: NodeNetworkView, version: number | undefined): void {
    const applied = Promise.resolve(this.opts.onNetworkView?.(view));
    if (version === undefined || !api.meshApplied) return;
    applied
      .then(() => api.meshApplied?.(sessionId, version))
      .catch((err: unknown) => this.log?.debug({ err: errText(err), version }, 'agent: mesh acknowledgement not sent'));
  }

  /**
   * True once no node's mesh sends new connections to the task (asked of the dispatcher, waiting up to `waitMs`);
   * false when that cannot be known (no session, a dispatcher without drain acknowledgements, an error).
   */
  private async meshDrained(taskId: string, waitMs: number): Promise<boolean> {
    const s = this.session;
    if (!s?.api.meshDrained) return false;
    try {
      return (await s.api.meshDrained(s.id, [taskId], waitMs)).includes(taskId);
    } catch (err) {
      this.log?.debug({ err: errText(err), taskId }, 'agent: drain acknowledgement unknown');
      return false;
    }
  }

  private async heartbeats(api: DispatcherApi, sessionId: string, periodMs: number, abort: AbortController): Promise<void> {
    let period = periodMs;
    while (!abort.signal.aborted) {
      await sleepUnlessAborted(period, abort.signal);
      if (abort.signal.aborted) return;
      try {
        period = (await api.heartbeat(sessionId)).heartbeatPeriodMs || period;
      } catch (err) {
        if (!abort.signal.aborted) this.log?.warn({ err: errText(err) }, 'agent: heartbeat failed, reconnecting');
        abort.abort();
        return;
      }
    }
  }

  // ---- status batching ----

  private enqueue(u: TaskStatusUpdate): void {
    this.pending.set(u.taskId, u);
    this.scheduleFlush();
  }

  /** A lone report (a task that failed, the first status after a quiet spell) goes out at once; a burst at most once per batch interval. */
  private scheduleFlush(delayMs = batchDelay(this.opts.clock.now(), this.lastFlushAt, this.opts.statusBatchMs ?? 10)): void {
    if (this.flushTimer || !this.session || this.pending.size === 0) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, delayMs);
  }

  private async flush(): Promise<void> {
    const s = this.session;
    if (!s || this.flushing || this.pending.size === 0) return;
    this.flushing = true;
    this.lastFlushAt = this.opts.clock.now();
    const batch = [...this.pending.values()];
    this.pending.clear();
    let retryMs: number | undefined;
    try {
      await s.api.updateTaskStatus(s.id, batch);
    } catch (err) {
      // Put them back unless something newer arrived meanwhile; they go out on the next session.
      for (const u of batch) if (!this.pending.has(u.taskId)) this.pending.set(u.taskId, u);
      this.log?.warn({ err: errText(err) }, 'agent: status update failed');
      // The session is gone, or its manager is no longer the leader: a new session (with the leader) takes them.
      if (isKind(err, 'NotFound') || hasReason(err, 'not-leader') || hasReason(err, 'no-leader')) s.abort.abort();
      retryMs = 1000;
    } finally {
      this.flushing = false;
    }
    this.scheduleFlush(retryMs);
  }
}
