// DispatcherApi over the node-to-node RPC (mutual TLS): what a worker's agent talks to. Any manager
// serves it (the followers relay to the leader). A connector hands the agent a connection on every
// (re)connect (all with one TLS context while the node's credentials stay the same): the same manager
// after a session that worked, another known one after a failure (chooseManager; the agent's own loop
// supplies the capped backoff); the manager list is refreshed from every session, so a node can
// reconnect to any manager the cluster told it about.
import { leaderHintOf } from '../lib/errors';
import { ClientCredentialsCache, createRpcClient, StreamedCalls, type ManagerRef, type RpcClient } from '../rpc';
import { DispatcherService, type CATarget, type HeartbeatRequest, type HeartbeatRpcResponse, type LogSubscriptionMessage, type PublishLogsMessage, type TaskStatusRequest } from '../rpc/protocol';
import type { AssignmentsMessage, DispatcherApi, SessionInfo, SessionRequest, TaskStatusUpdate } from '../types';

export interface NodeTls {
  certPem: string;
  keyPem: string;
  caPem: string;
}

export interface RemoteDispatcherOptions {
  /** Manager addresses (host:port) known at start (from the join, or persisted). */
  managers: string[];
  /** The node's current key, certificate and roots (read on every connection: renewals take effect on reconnect). */
  credentials: () => NodeTls;
  /** Called with the manager list each session reports. */
  onManagers?: (managers: ManagerRef[]) => void;
  /** Called with what the CA expects of this node (from every session and heartbeat). */
  onCA?: (target: CATarget) => void;
  /** Deadline of unary calls (ms). Default 10 000; the heartbeat uses max(period × 2, 2000) capped by it. */
  callTimeoutMs?: number;
  /** Random numbers in [0, 1): the first manager when several are known, and the next after a failure. Default Math.random. */
  random?: () => number;
}

export interface LogPublisher {
  send(m: PublishLogsMessage): Promise<void>;
  end(): void;
  cancel(): void;
  /** Settles when the manager has taken the whole stream. */
  done: Promise<void>;
}

/** A dispatcher connection that also carries log subscriptions (remote managers do; the in-process one need not). */
export interface LogCapableDispatcher {
  logSubscriptions(sessionId: string, signal: AbortSignal): AsyncIterable<LogSubscriptionMessage>;
  publishLogs(signal: AbortSignal): LogPublisher;
}

/** One connection to one manager, implementing DispatcherApi. */
export class RemoteDispatcher implements DispatcherApi {
  sessionId: string | null = null;
  private heartbeatTimeoutMs: number;
  /** The session's heartbeats and status reports, each kind on one stream for the session's life (rpc/stream-calls.ts). */
  private readonly beats: StreamedCalls<HeartbeatRequest, HeartbeatRpcResponse>;
  private readonly reports: StreamedCalls<TaskStatusRequest, Record<string, never>>;

  constructor(
    readonly address: string,
    readonly client: RpcClient,
    private readonly callTimeoutMs: number,
    private readonly onManagers?: (m: ManagerRef[]) => void,
    private readonly onCA?: (target: CATarget) => void,
    /** A manager that is not the leader refuses the session and names the leader: try it next. */
    private readonly onLeaderHint?: (addr: string) => void,
    /** The credentials the connection was made with (a connector keeps the connection only while they hold). */
    readonly tls?: NodeTls,
  ) {
    this.heartbeatTimeoutMs = callTimeoutMs;
    this.beats = new StreamedCalls({
      what: 'heartbeat',
      stream: () => client.bidi(DispatcherService, 'Heartbeats'),
      unary: (req, timeoutMs) => client.unary(DispatcherService, 'Heartbeat', { sessionId: req.sessionId }, { timeoutMs }),
    });
    this.reports = new StreamedCalls({
      what: 'status update',
      stream: () => client.bidi(DispatcherService, 'TaskStatusUpdates'),
      unary: (req, timeoutMs) => client.unary(DispatcherService, 'UpdateTaskStatus', { sessionId: req.sessionId, updates: req.updates }, { timeoutMs }),
    });
  }

  /**
   * A manager that is not the leader (it refuses a session, or it lost its leadership during one and
   * ends it) names the leader: the next connection goes there.
   */
  private readonly hint = (e: unknown): never => {
    const leader = leaderHintOf(e);
    if (leader) this.onLeaderHint?.(leader);
    throw e;
  };

  /**
   * The connection first, then the call, each within the call timeout: a new leader with thousands of
   * agents reconnecting takes seconds to finish their TLS handshakes and seconds more to answer, and one
   * deadline over both made agents give up on Sessions the leader then registered (and, without their
   * heartbeats, marked Down 15 s later: issue 15's failover at 1,000 and 5,000 nodes).
   */
  async session(req: SessionRequest): Promise<SessionInfo> {
    this.stopStreams();
    await this.client.connected(this.callTimeoutMs);
    const res = await this.client.unary(DispatcherService, 'Session', { description: req.description, addr: req.addr }, { timeoutMs: this.callTimeoutMs }).catch(this.hint);
    this.sessionId = res.sessionId;
    this.heartbeatTimeoutMs = Math.min(this.callTimeoutMs, Math.max(2000, res.heartbeatPeriodMs * 2));
    if (res.managerNodes?.length) this.onManagers?.(res.managerNodes);
    if (res.ca) this.onCA?.(res.ca);
    return { sessionId: res.sessionId, heartbeatPeriodMs: res.heartbeatPeriodMs, managers: res.managers, logSubscriptionsOnAssignments: res.logSubscriptionsOnAssignments === true };
  }

  /**
   * One heartbeat, on the session's Heartbeats stream (opened by the first): answered within the heartbeat
   * timeout or failed, as the unary call was. Any failure ends the stream; the agent then starts a new session.
   */
  async heartbeat(sessionId: string): Promise<{ heartbeatPeriodMs: number }> {
    const timeoutMs = this.heartbeatTimeoutMs;
    const res = await this.beats.call(sessionId, { sessionId, timeoutMs }, timeoutMs).catch(this.hint);
    if (res?.ca) this.onCA?.(res.ca);
    if (res?.managerNodes?.length) this.onManagers?.(res.managerNodes);
    return { heartbeatPeriodMs: res?.heartbeatPeriodMs };
  }

  /** Ends the session's streams of heartbeats and status reports, if open (a new session, a failure, another connection). */
  stopStreams(): void {
    this.beats.stop();
    this.reports.stop();
  }

  /** Log subscriptions a manager of the previous release publishes for this node's tasks on a stream of their own (for the session's life). */
  logSubscriptions(sessionId: string, signal: AbortSignal): AsyncIterable<LogSubscriptionMessage> {
    return this.client.serverStream(DispatcherService, 'LogSubscriptions', { sessionId }, { signal });
  }

  /** A PublishLogs client stream (one per subscription). */
  publishLogs(signal: AbortSignal): LogPublisher {
    const s = this.client.clientStream(DispatcherService, 'PublishLogs', { signal });
    // `done` is awaited only when the publisher ends normally; a cancelled one must not leave an
    // unhandled rejection behind (that stops the daemon, node/main.ts)
    const done = s.response.then(() => undefined);
    done.catch(() => undefined);
    return { send: (m) => s.send(m), end: () => s.end(), cancel: () => s.cancel(), done };
  }

  assignments(sessionId: string, signal: AbortSignal): AsyncIterable<AssignmentsMessage> {
    const stream = this.client.serverStream(DispatcherService, 'Assignments', { sessionId }, { signal });
    const hint = this.hint;
    return (async function* () {
      try {
        yield* stream;
      } catch (e) {
        hint(e);
      }
    })();
  }

  /** One batch of reports, on the session's TaskStatusUpdates stream (opened by the first), within the call timeout. */
  async updateTaskStatus(sessionId: string, updates: TaskStatusUpdate[]): Promise<void> {
    const timeoutMs = this.callTimeoutMs;
    await this.reports.call(sessionId, { sessionId, updates, timeoutMs }, timeoutMs).catch(this.hint);
  }

  async meshApplied(sessionId: string, version: number): Promise<void> {
    await this.client.unary(DispatcherService, 'MeshApplied', { sessionId, version }, { timeoutMs: this.callTimeoutMs });
  }

  async meshDrained(sessionId: string, taskIds: string[], waitMs: number): Promise<string[]> {
    // the manager answers by `waitMs` at the latest: the deadline leaves it room
    const res = await this.client.unary(DispatcherService, 'MeshDrained', { sessionId, taskIds, waitMs }, { timeoutMs: waitMs + this.callTimeoutMs });
    return Array.isArray(res?.drained) ? res.drained : [];
  }

  async daemonStopping(sessionId: string, timeoutMs = 1000): Promise<void> {
    await this.client.unary(DispatcherService, 'DaemonStopping', { sessionId }, { timeoutMs: Math.min(timeoutMs, this.callTimeoutMs) });
  }

  /** Tells the manager this node is leaving (it is marked down at once). */
  async leave(timeoutMs = 3000): Promise<void> {
    if (!this.sessionId) return;
    await this.client.unary(DispatcherService, 'Leave', { sessionId: this.sessionId }, { timeoutMs });
  }

  close(): void {
    this.stopStreams();
    this.client.close();
  }
}

const sameTls = (a: NodeTls | undefined, b: NodeTls): boolean => !!a && a.certPem === b.certPem && a.keyPem === b.keyPem && a.caPem === b.caPem;

/**
 * Failed attempts (no session) at the manager a leader hint named before the connector moves on. A
 * new leader with 1,000 agents reconnecting answers slowly; moving on to a follower costs another TLS
 * handshake only to be sent back to it (issue 15's failover at scale).
 */
export const HINTED_LEADER_RETRIES = 2;

/** Which manager a new connection goes to (pure: the connector's choice, tested on its own). */
export interface ManagerChoice {
  managers: readonly string[];
  /** Index of the manager the last connection went to (or the start). */
  next: number;
  /** A leader hint arrived since the last connection: its index. */
  hinted: number | null;
  /** The last connection, if any, and whether it got a session. */
  prev: { address: string; hadSession: boolean } | null;
  /** The hinted leader being tried, and its failed attempts so far. */
  leader: { addr: string; failures: number } | null;
  /** A number in [0, 1): which of the other managers a failed connection moves on to. Default 0 (the next in the list). */
  random?: number;
}

export function chooseManager(c: ManagerChoice): { next: number; leader: { addr: string; failures: number } | null } {
  const n = c.managers.length;
  if (c.hinted !== null) return { next: c.hinted, leader: { addr: c.managers[c.hinted]!, failures: 0 } };
  const prevAt = c.prev ? c.managers.indexOf(c.prev.address) : -1;
  // the last session worked: its manager again
  if (c.prev?.hadSession && prevAt >= 0) return { next: prevAt, leader: null };
  // the hinted leader did not answer in time: again, a few times, before a follower
  if (c.prev && c.leader && c.prev.address === c.leader.addr && prevAt >= 0 && c.leader.failures < HINTED_LEADER_RETRIES) {
    return { next: prevAt, leader: { addr: c.leader.addr, failures: c.leader.failures + 1 } };
  }
  if (!c.prev || n === 1) return { next: c.next % n, leader: null };
  // Any other manager, at random: the agents of a manager that died spread their TLS handshakes and
  // sessions over the survivors (which relay to the leader) instead of all landing on the next in the list.
  const from = prevAt >= 0 ? prevAt : c.next;
  const others = Array.from({ length: n - 1 }, (_, i) => (from + 1 + i) % n);
  return { next: others[Math.min(others.length - 1, Math.floor((c.random ?? 0) * others.length))]!, leader: null };
}

export class RemoteDispatcherConnector {
  private managers: string[];
  private next = 0;
  /** The hinted leader being tried (chooseManager). */
  private leader: { addr: string; failures: number } | null = null;
  private current: RemoteDispatcher | null = null;
  private readonly callTimeoutMs: number;
  /** Every connection with the same key, certificate and roots shares one TLS context (a renewal makes a new one). */
  private readonly credentialsCache = new ClientCredentialsCache();

  constructor(private readonly opts: RemoteDispatcherOptions) {
    if (opts.managers.length === 0) throw new Error('no manager address to connect to');
    this.managers = [...opts.managers];
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.random = opts.random ?? Math.random;
    // A node that knows several managers at start (a restart with the list its sessions told it) takes
    // any of them, as swarmkit's remotes do: every manager serves sessions, and nodes spread over them
    // share the TLS work, the sessions' memory and a leader change's reconnects among the managers.
    this.next = Math.min(this.managers.length - 1, Math.floor(this.random() * this.managers.length));
  }

  private readonly random: () => number;

  /** The managers this node knows about. */
  known(): string[] {
    return [...this.managers];
  }

  /**
   * A new session's dispatcher: to the current manager again if its last session worked, else the next
   * one. A retry at the same manager with the same credentials keeps the connection when it is up or still
   * being made: a busy new leader (thousands of agents at once) answers a session late, and an agent
   * that dropped the connection then paid a TLS handshake on both sides for every try, which the leader
   * spent on agents that had given up (issue 15's 5,000-node failover).
   */
  connect(): RemoteDispatcher {
    // After Leave no new session may start: it would mark the node Ready again until it expired.
    if (this.left) throw new Error('this node left the swarm');
    const prev = this.current;
    const choice = chooseManager({
      managers: this.managers,
      next: this.next,
      hinted: this.hinted,
      prev: prev ? { address: prev.address, hadSession: prev.sessionId !== null } : null,
      leader: this.leader,
      random: this.random(),
    });
    this.next = choice.next;
    this.leader = choice.leader;
    this.hinted = null;
    const address = this.managers[this.next]!;
    const tls = this.opts.credentials();
    const kept = prev && prev.address === address && sameTls(prev.tls, tls) && prev.client.connectedOrConnecting() ? prev.client : undefined;
    prev?.stopStreams();
    if (!kept) prev?.close();
    const client = kept ?? createRpcClient(address, { certPem: tls.certPem, keyPem: tls.keyPem, caPem: tls.caPem, serverRole: 'swarm-manager', credentialsCache: this.credentialsCache });
    this.current = new RemoteDispatcher(address, client, this.callTimeoutMs, (m) => this.updateManagers(m), this.opts.onCA, (leader) => this.leaderHint(leader), tls);
    return this.current;
  }

  /** The index of the manager a leader hint named: the next connect() goes there, whatever the last session did. */
  private hinted: number | null = null;

  /** The next connect() goes to `addr` (added to the known managers if new). */
  private leaderHint(addr: string): void {
    if (!this.managers.includes(addr)) this.managers.push(addr);
    this.hinted = this.managers.indexOf(addr);
  }

  private updateManagers(m: ManagerRef[]): void {
    const addrs = m.map((x) => x.addr).filter((a) => a);
    if (addrs.length === 0) return;
    const cur = this.current?.address;
    const hinted = this.hinted === null ? undefined : this.managers[this.hinted];
    this.managers = addrs;
    this.next = Math.max(0, cur ? addrs.indexOf(cur) : 0);
    if (hinted !== undefined && !addrs.includes(hinted)) this.managers.push(hinted);
    if (hinted !== undefined) this.hinted = this.managers.indexOf(hinted);
    this.opts.onManagers?.(m);
  }

  private left = false;

  /** Best effort: tells the manager of the current session that this node leaves. */
  async leave(timeoutMs = 3000): Promise<void> {
    this.left = true;
    await this.current?.leave(timeoutMs);
  }

  close(): void {
    this.current?.close();
    this.current = null;
  }
}
