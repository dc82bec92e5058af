import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { AssignmentsMessage, Cluster, DispatcherApi, SessionInfo, SessionRequest, TaskStatusUpdate } from '../../types';
import type { MemoryStore } from '../../store';
import type { Clock } from '../../lib/ports';
import { invalidArgument, notFound, unavailable } from '../../lib/errors';
import { isoTime } from '../../lib/time';
import { sleepUnlessAborted } from '../../sys/sleep';
import { AssignmentSet, type DependencyLookup } from './core/assignments';
import { AssignmentRounds } from './assignment-rounds';
import { IngressFeed } from './ingress-feed';
import { CHECK_EVERY_MAX_MS, HeartbeatTracker, heartbeatPeriodMs, unknownGraceMs } from './core/heartbeat';
import { DispatcherBatchWrites, MAX_NODES_PER_WRITE } from './batch-writes';
import { batchDelay } from '../../lib/batching';
import { Slots } from '../../lib/slots';
import type { DispatcherLogger } from './logger';
import type { DispatcherOptions } from './options';
import type { LogSubscriptionFeed } from './logbroker';

// The dispatcher: one session per node, heartbeats, assignment streams; its store writes are batched
// (./batch-writes.ts). Transport-agnostic: it implements DispatcherApi in-process; the gRPC layer wraps
// this object. Timers live here and in ./batch-writes.ts; decisions live in ./core.

export type { DispatcherLogger } from './logger';

export type { DispatcherOptions } from './options';

/** Docker's message for a node whose heartbeats stopped. */
export const HEARTBEAT_FAILURE = 'heartbeat failure';
/** Docker's texts for a node a new dispatcher has not heard from yet, and for one that never came back. */
export const LEADERSHIP_CHANGE = 'Node moved to "unknown" state due to leadership change in cluster';
export const UNKNOWN_HEARTBEAT_FAILURE = 'heartbeat failure for node in "unknown" state';
/** The longest a meshDrained call waits (the agent's hold is bounded by `--mesh-drain-ms` too). */
export const MAX_DRAIN_WAIT_MS = 60_000;
/** Status message of a node that left the swarm itself. */
export const NODE_LEFT = 'node left the swarm';
/**
 * Complete assignment sets on their way at once, on a leader and on each relay; the next session's set is
 * built once one of them is written. After a leader change every node opens a session within seconds, and
 * each set was encoded at once and held until its node read it: at 1,000 nodes × 100 tasks the survivors'
 * array buffers rose by 45–105 MiB within seconds (issue 15). 64 sets of 100 tasks are ≈ 4 MiB; a node that
 * starts alone never waits.
 */
export const COMPLETE_SETS_AT_ONCE = 64;

interface Session {
  id: string;
  nodeId: string;
  periodMs: number;
  /** Aborted when the session ends (replaced, expired, dispatcher stopped). */
  ended: AbortController;
  streams: number;
  /** A relay said the node's connection to it dropped: the grace starts once no stream is open. */
  relayLost: boolean;
}

export class Dispatcher implements DispatcherApi {
  private readonly store: MemoryStore;
  private readonly clock: Clock;
  private readonly log?: DispatcherLogger;
  private readonly batchMs: number;
  private readonly heartbeats: HeartbeatTracker;
  private sessions = new Map<string, Session>();
  /** The session of each node that has one (session() ends a node's older session before it adds the new one). */
  private sessionOfNode = new Map<string, string>();
  /** When the mesh drain book was last pruned (clock ms): at most once a second, not on every node's acknowledgement. */
  private lastDrainPrune = -Infinity;
  /** Registrations, down marks and status reports, one store write per batch. */
  private readonly writes: DispatcherBatchWrites;
  private checkTimer: NodeJS.Timeout | null = null;
  private disconnectTimers = new Map<string, NodeJS.Timeout>();
  private running = false;
  private stopped = new AbortController();
  private readonly ingress: IngressFeed;
  /** Complete sets being written (COMPLETE_SETS_AT_ONCE). */
  private readonly completeSets: Slots;

  constructor(private readonly opts: DispatcherOptions) {
    this.store = opts.store;
    this.clock = opts.clock;
    this.log = opts.logger;
    this.batchMs = opts.batchMs ?? 10;
    this.completeSets = new Slots(opts.completeSetsAtOnce ?? COMPLETE_SETS_AT_ONCE);
    this.heartbeats = new HeartbeatTracker(opts.heartbeatEpsilonMs);
    this.ingress = new IngressFeed(this.store, this.batchMs, this.log);
    this.writes = new DispatcherBatchWrites({ store: this.store, clock: this.clock, batchMs: this.batchMs, log: this.log, hasSession: (id) => !!this.heartbeats.sessionOf(id) });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = new AbortController();
    setMaxListeners(0, this.stopped.signal); // one listener per session stream: 1,000 nodes are not a leak
    this.ingress.start();
    this.heartbeats.checksStart(this.clock.now());
    this.scheduleCheck();
    this.expectReconnects();
  }

  private reconnectTimer: NodeJS.Timeout | null = null;

  /**
   * A dispatcher that starts (a new leader, a restarted manager) has no session yet with nodes the
   * store says are up. As in Docker, they are Unknown until they open one (the scheduler places tasks
   * on Ready nodes only, so nothing lands on a node that died with the old leader), and each gets
   * `unknownGraceMs` to open one, else it is marked down.
   */
  private expectReconnects(): void {
    const ids = this.store.read((tx) => tx.find('node', (n) => n.Status.State !== 'down').map((n) => n.ID));
    void this.markUnknown(ids);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.running) return;
      for (const id of ids) if (!this.heartbeats.sessionOf(id)) void this.writes.markDown(id, UNKNOWN_HEARTBEAT_FAILURE);
    }, unknownGraceMs(this.periodMs(), this.opts.heartbeatEpsilonMs));
    this.reconnectTimer.unref?.();
  }

  /**
   * In writes of at most MAX_NODES_PER_WRITE: 5,000 nodes in one were over the Raft entry limit, refused
   * whole ("raft message is too large"), and no node was marked Unknown (issue 15's 5,000-node failover).
   */
  private async markUnknown(ids: string[]): Promise<void> {
    const writes: Promise<void>[] = [];
    try {
      for (let at = 0; at < ids.length; at += MAX_NODES_PER_WRITE) {
        const chunk = ids.slice(at, at + MAX_NODES_PER_WRITE);
        const { applied } = await this.store.write((tx) => {
          for (const id of chunk) {
            // A node whose session opened meanwhile is Ready; a down one is not brought back.
            const n = tx.get('node', id);
            if (!n || this.heartbeats.sessionOf(id) || n.Status.State === 'down' || n.Status.State === 'unknown') continue;
            n.Status = { ...n.Status, State: 'unknown', Message: LEADERSHIP_CHANGE };
            n.UpdatedAt = isoTime(this.clock.now());
            tx.update('node', n);
          }
        });
        writes.push(applied);
      }
      await Promise.all(writes);
    } catch (err) {
      await Promise.allSettled(writes);
      this.log?.warn({ err }, 'dispatcher: marking nodes unknown failed');
    }
  }

  /** The last stop's status flush: a second stop() waits for it too. */
  private stopping: Promise<void> = Promise.resolve();

  /** Ends every session (agents reconnect elsewhere) and flushes pending status writes. */
  stop(): Promise<void> {
    if (!this.running) return this.stopping;
    this.running = false;
    this.stopped.abort();
    this.ingress.stop();
    if (this.checkTimer) clearTimeout(this.checkTimer);
    this.checkTimer = null;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    for (const t of this.disconnectTimers.values()) clearTimeout(t);
    this.disconnectTimers.clear();
    for (const s of this.sessions.values()) s.ended.abort();
    this.sessions.clear();
    this.sessionOfNode.clear();
    this.wakeDrainWaiters();
    this.stopping = this.flush();
    return this.stopping;
  }

  // ---- DispatcherApi ----

  /** `relayedBy`: the manager that relays the node's calls here (relay.ts), for the log. */
  async session(req: SessionRequest, relayedBy?: string): Promise<SessionInfo> {
    this.assertRunning();
    if (!req.nodeId) throw invalidArgument('session: node ID required');
    const periodMs = this.periodMs();
    const id = randomBytes(16).toString('hex');
    // the node's older session (the tracker's entry for it is replaced here, or expired already)
    this.heartbeats.register(req.nodeId, id, this.clock.now(), periodMs);
    const older = this.sessionOfNode.get(req.nodeId);
    if (older) this.endSession(older);
    const dt = this.disconnectTimers.get(req.nodeId);
    if (dt) clearTimeout(dt);
    this.disconnectTimers.delete(req.nodeId);
    this.sessions.set(id, { id, nodeId: req.nodeId, periodMs, ended: new AbortController(), streams: 0, relayLost: false });
    this.sessionOfNode.set(req.nodeId, id);
    try {
      // Batched with the other sessions' and the status reports (one Raft write per batch, as
      // swarmkit's node updates): writes are serialized, and 1,000 nodes reconnecting to a new
      // leader one commit each waited a commit latency apiece.
      await this.writes.register(req);
    } catch (e) {
      this.heartbeats.remove(req.nodeId, id);
      this.endSession(id);
      throw e;
    }
    this.log?.info({ nodeId: req.nodeId, sessionId: id, ...(relayedBy ? { relayedBy } : {}) }, 'dispatcher: session started');
    return { sessionId: id, heartbeatPeriodMs: periodMs, managers: this.opts.managers?.() ?? [] };
  }

  async heartbeat(sessionId: string): Promise<{ heartbeatPeriodMs: number }> {
    this.assertRunning();
    const s = this.sessions.get(sessionId);
    if (!s) throw notFound('session invalid');
    const periodMs = this.periodMs();
    if (!this.heartbeats.beat(s.nodeId, s.id, this.clock.now(), periodMs)) {
      this.endSession(s.id);
      throw notFound('session invalid');
    }
    s.periodMs = periodMs;
    return { heartbeatPeriodMs: periodMs };
  }

  /**
   * `relayed`: another manager relays the stream (relay.ts); its end may be that manager's death, so only the
   * relay's word (`relayedConnectionLost`) starts the short disconnect grace; else the heartbeat TTL judges.
   * `logs`: the node's log subscriptions (LogBroker.feed), opened once the complete set is written and carried
   * in the stream's messages (`logSubscriptions`) until it ends.
   */
  assignments(sessionId: string, signal: AbortSignal, relayed = false, logs?: () => LogSubscriptionFeed): AsyncIterable<AssignmentsMessage> {
    return { [Symbol.asyncIterator]: () => this.stream(sessionId, signal, relayed, logs)[Symbol.asyncIterator]() };
  }

  /** A relay saw the node's own connection drop while it relayed the node's assignment stream. */
  async relayedConnectionLost(sessionId: string): Promise<void> {
    this.assertRunning();
    const s = this.sessions.get(sessionId);
    if (!s) return; // replaced or expired meanwhile: nothing to judge
    s.relayLost = true;
    this.onStreamClosed(s, true);
  }

  async updateTaskStatus(sessionId: string, updates: TaskStatusUpdate[]): Promise<void> {
    this.assertRunning();
    const s = this.sessions.get(sessionId);
    if (!s) throw notFound('session invalid');
    if (updates.length === 0) return;
    return this.writes.reportStatus(s.nodeId, updates);
  }

  /**
   * The node is leaving the swarm (`docker swarm leave`): end its session and mark it down now
   * rather than after its heartbeats expire.
   */
  async leave(sessionId: string): Promise<void> {
    this.assertRunning();
    const s = this.sessions.get(sessionId);
    if (!s) throw notFound('session invalid');
    this.heartbeats.remove(s.nodeId, s.id);
    this.endSession(s.id);
    this.log?.info({ nodeId: s.nodeId }, 'dispatcher: node left, marking it down');
    await this.flush();
    await this.writes.markDown(s.nodeId, NODE_LEFT);
  }

  /**
   * The node's daemon is stopping and will likely be back (a restart): when its connection ends, the node keeps its
   * heartbeat TTL to return, as every disconnect does in Docker; a crash, which sends nothing, gets the short grace.
   */
  async daemonStopping(sessionId: string): Promise<void> {
    this.assertRunning();
    const s = this.sessions.get(sessionId);
    if (!s) throw notFound('session invalid');
    this.heartbeats.stopping(s.nodeId, s.id);
    this.log?.info({ nodeId: s.nodeId }, 'dispatcher: node daemon stopping; down only if its heartbeats expire');
  }

  /** The node's routing mesh applied the network view of `version` (AssignmentsMessage.networkVersion). */
  async meshApplied(sessionId: string, version: number): Promise<void> {
    this.assertRunning();
    const s = this.sessions.get(sessionId);
    if (!s) throw notFound('session invalid');
    if (!Number.isInteger(version)) throw invalidArgument('mesh applied: version must be an integer');
    this.ingress.drain.ack(s.nodeId, version);
    // every node acknowledges every table: a prune (a pass over all nodes) on each was O(nodes²) a table
    const now = this.clock.now();
    if (now - this.lastDrainPrune >= 1000) {
      this.lastDrainPrune = now;
      this.ingress.drain.prune(this.connectedNodes());
    }
    this.wakeDrainWaiters();
  }

  /**
   * Of `taskIds`, those no connected node's routing mesh sends new connections to any more (core/mesh-drain.ts);
   * waits up to `waitMs` for all of them to be.
   */
  async meshDrained(sessionId: string, taskIds: string[], waitMs: number): Promise<string[]> {
    this.assertRunning();
    if (!this.sessions.has(sessionId)) throw notFound('session invalid');
    const ids = taskIds.filter((id) => typeof id === 'string');
    const deadline = this.clock.now() + Math.min(Math.max(0, Number(waitMs) || 0), MAX_DRAIN_WAIT_MS);
    for (;;) {
      const drained = this.ingress.drain.drained(ids, this.connectedNodes());
      const left = deadline - this.clock.now();
      if (drained.length === ids.length || left <= 0 || !this.running || !this.sessions.has(sessionId)) return drained;
      // woken by an acknowledgement or a session's end, or at the deadline
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          this.drainWaiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.drainWaiters.add(done);
      });
    }
  }

  private readonly drainWaiters = new Set<() => void>();

  private wakeDrainWaiters(): void {
    const ws = [...this.drainWaiters];
    this.drainWaiters.clear();
    for (const w of ws) w();
  }

  /** The node a live session belongs to (the RPC layer checks it against the caller's certificate). */
  sessionNode(sessionId: string): string | undefined {
    return this.sessions.get(sessionId)?.nodeId;
  }

  // ---- internals ----

  /** Node IDs with a live session (for tests and diagnostics). */
  connectedNodes(): string[] {
    return [...this.sessionOfNode.keys()];
  }

  /** Refuses the call unless this dispatcher runs (the RPC layer asks before it looks a session up). */
  assertRunning(): void {
    if (!this.running) throw this.refusal();
  }

  private refusal(): Error {
    return this.opts.refusal?.() ?? unavailable('dispatcher is stopped');
  }

  private periodMs(): number {
    const c = this.store.read((tx) => tx.find('cluster'))[0] as Cluster | undefined;
    return heartbeatPeriodMs(c?.Spec?.Dispatcher?.HeartbeatPeriod);
  }

  private endSession(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    s.ended.abort();
    if (this.sessionOfNode.get(s.nodeId) === id) {
      this.sessionOfNode.delete(s.nodeId);
      // a node without a session is not waited for by drains (it acknowledges again in its next session)
      this.ingress.drain.forget(s.nodeId);
    }
    this.wakeDrainWaiters();
  }

  private async *stream(sessionId: string, signal: AbortSignal, relayed: boolean, openLogs?: () => LogSubscriptionFeed): AsyncGenerator<AssignmentsMessage> {
    this.assertRunning();
    const s = this.sessions.get(sessionId);
    if (!s) throw notFound('session invalid');
    const nodeId = s.nodeId;
    const stopped = this.stopped.signal; // this run's: a restarted dispatcher has a new one
    s.streams++;
    s.relayLost = false;
    this.heartbeats.streamOpened(nodeId, s.id);
    // keyed by node in the store: one lookup per event however many sessions there are
    const watch = this.store.watch({ kinds: ['task'], nodeId });
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener('abort', onAbort);
    s.ended.signal.addEventListener('abort', onAbort);
    stopped.addEventListener('abort', onAbort);
    const closeWatch = () => watch.close();
    stop.signal.addEventListener('abort', closeWatch);
    const set = new AssignmentSet(nodeId);
    let rounds: AssignmentRounds | undefined;
    try {
      // the complete set waits its turn (COMPLETE_SETS_AT_ONCE); the watch keeps what happens meanwhile
      const written = await this.completeSets.take(stop.signal).catch(() => undefined);
      if (!written) {
        if (stopped.aborted && !signal.aborted) throw this.refusal();
        return;
      }
      const viewIndex = this.store.index;
      const net = this.ingress.current(nodeId);
      const dependencies: DependencyLookup = {
        secret: (id) => this.store.read((tx) => tx.get('secret', id)),
        config: (id) => this.store.read((tx) => tx.get('config', id)),
      };
      // Made in a call of its own, and cleared once written: a suspended generator keeps the dead locals of what
      // it did before (node 20), here the node's first versions of its tasks for the stream's life (assignment-rounds.ts).
      const completeSet = (): AssignmentsMessage => {
        // the store's own objects: the set keeps them and the stream serializes them, neither changes one
        const tasks = this.store.read((tx) => tx.tasksByNode(nodeId));
        return { ...set.complete(tasks, dependencies), network: net.view, networkVersion: net.version };
      };
      try {
        let complete: AssignmentsMessage | undefined = completeSet();
        // resumed once the message is written (Assignments is oneWriteAtATime)
        yield complete;
        complete = undefined;
      } finally {
        written();
      }
      // Stopping closes the watch, which ends the wait for the next round.
      rounds = new AssignmentRounds({ nodeId, watch, set, viewIndex, dependencies, views: this.ingress, sent: net, logs: openLogs?.() });
      let lastSentAt: number | undefined;
      let msg: AssignmentsMessage | null | undefined;
      while (!stop.signal.aborted) {
        if ((await rounds.due()) === 'closed') break;
        // Coalesce changes into one message: those of this turn of the event loop (one store write's come
        // together: setImmediate, no timer or abort listener), and while the last message is recent, those of
        // the rest of `batchMs` (lib/batching.ts).
        const hold = batchDelay(this.clock.now(), lastSentAt, this.batchMs);
        await (hold > 0 ? sleepUnlessAborted(hold, stop.signal) : new Promise<void>((r) => setImmediate(r)));
        if (stop.signal.aborted) break;
        msg = rounds.message();
        if (msg) {
          lastSentAt = this.clock.now();
          yield msg;
        }
        msg = undefined;
      }
      // Stopped (leadership lost): the agent learns where to go instead of seeing a clean end.
      if (stopped.aborted && !signal.aborted) throw this.refusal();
    } finally {
      signal.removeEventListener('abort', onAbort);
      s.ended.signal.removeEventListener('abort', onAbort);
      stopped.removeEventListener('abort', onAbort);
      watch.close();
      rounds?.close();
      s.streams--;
      this.onStreamClosed(s, relayed);
    }
  }

  /** The session's last stream closed (a relayed one: and the relay said so): the grace to reconnect starts. */
  private onStreamClosed(s: Session, lastWasRelayed = false): void {
    const g = this.opts.disconnectGraceMs;
    const grace = typeof g === 'function' ? g() : g;
    if (grace === undefined || !this.running) return;
    if (this.sessions.get(s.id) !== s || s.streams > 0 || (lastWasRelayed && !s.relayLost)) return; // replaced or expired, a stream still open, or the relay did not say the connection dropped
    if (!this.heartbeats.disconnected(s.nodeId, s.id, this.clock.now(), grace)) return;
    const t = setTimeout(() => {
      this.disconnectTimers.delete(s.nodeId);
      this.checkAfterIo();
    }, grace + 5); // a few ms past the deadline: timers may round down to the millisecond
    t.unref?.();
    const old = this.disconnectTimers.get(s.nodeId);
    if (old) clearTimeout(old);
    this.disconnectTimers.set(s.nodeId, t);
  }

  private scheduleCheck(): void {
    if (!this.running) return;
    const interval = this.opts.checkIntervalMs ?? Math.min(CHECK_EVERY_MAX_MS, Math.max(10, Math.floor(this.periodMs() / 4)));
    this.checkTimer = setTimeout(() => {
      this.checkTimer = null;
      this.checkAfterIo();
      this.scheduleCheck();
    }, interval);
    this.checkTimer.unref?.();
  }

  /**
   * Judges the deadlines after this turn's I/O: timers run before the poll phase, so a check that
   * fires right after the thread was busy (a big commit, a GC) would otherwise count heartbeats that
   * already arrived, unread in the sockets, as missed. After a longer hold-up (the machine, or every
   * process with it) the deadlines first move by the time lost (HeartbeatTracker.catchUp).
   */
  private checkAfterIo(): void {
    setImmediate(() => {
      if (!this.running) return;
      this.heartbeats.catchUp(this.clock.now());
      this.checkHeartbeats();
    });
  }

  /** Marks nodes whose heartbeats expired down. Public so tests with a manual clock can drive it. */
  checkHeartbeats(): void {
    for (const e of this.heartbeats.expire(this.clock.now())) {
      this.log?.warn({ nodeId: e.nodeId }, e.reason === 'disconnect' ? 'dispatcher: session connection lost and not reopened, node down' : 'dispatcher: heartbeat expired, node down');
      this.endSession(e.sessionId);
      void this.writes.markDown(e.nodeId, HEARTBEAT_FAILURE);
    }
  }

  /** Writes what is pending of registrations, down marks and status reports (tests and stop use it). */
  flush(): Promise<void> {
    return this.writes.flush();
  }
}
