// Heartbeat bookkeeping of the dispatcher: who must beat by when. Time comes in as `now` (ms).
import { AGENT_MAX_BACKOFF_MS } from '../../../types/dispatcher';

/** swarmkit's rule: a node is down after missing its heartbeats for 3 periods. */
export const HEARTBEAT_GRACE_MULTIPLIER = 3;
/** Slack on top of the TTL so a heartbeat sent exactly on time is never judged late. */
export const HEARTBEAT_EPSILON_MS = 500;
export const DEFAULT_HEARTBEAT_PERIOD_MS = 5000;
/**
 * How long a node whose session connection dropped may take to open a new one before it is Down.
 * An agent whose manager is alive reconnects within its first backoff (≤ 100 ms), so a blip never
 * flaps the node; a dead daemon is Down after this, not after 3 missed periods (15.5 s). A daemon
 * that stops on purpose (a restart, an upgrade) says so first (`HeartbeatTracker.stopping`): its
 * session then keeps the heartbeat TTL, as in Docker, and it finds its tasks where it left them.
 * A silent partition or a dead host sends nothing and is judged by the TTL too.
 */
export const DISCONNECT_GRACE_MS = 1000;

/** The period agents must beat at, from Cluster.Spec.Dispatcher.HeartbeatPeriod (ns). */
export function heartbeatPeriodMs(periodNs: number | undefined): number {
  if (!periodNs || !Number.isFinite(periodNs) || periodNs <= 0) return DEFAULT_HEARTBEAT_PERIOD_MS;
  return Math.max(1, Math.round(periodNs / 1_000_000));
}

/** How long after a heartbeat (or session start) a node is still considered alive. */
export const heartbeatTtlMs = (periodMs: number, epsilonMs = HEARTBEAT_EPSILON_MS): number => HEARTBEAT_GRACE_MULTIPLIER * periodMs + epsilonMs;

/**
 * How long a node that a starting dispatcher (a new leader) finds without a session has to open one
 * before it is Down: swarmkit's twice the grace multiplier times the period (30 s with the default
 * 5 s), and never less than a TTL plus the agents' longest backoff, which short periods would undercut.
 */
export const unknownGraceMs = (periodMs: number, epsilonMs = HEARTBEAT_EPSILON_MS): number =>
  Math.max(2 * HEARTBEAT_GRACE_MULTIPLIER * periodMs + epsilonMs, heartbeatTtlMs(periodMs, epsilonMs) + AGENT_MAX_BACKOFF_MS);

/** The disconnect grace for a heartbeat period: never longer than one period (a 1 s period's nodes get no slower). */
export const disconnectGraceMs = (periodMs: number): number => Math.min(DISCONNECT_GRACE_MS, periodMs);

/** The dispatcher judges the deadlines on its own schedule at least this often (its check interval is at most this). */
export const CHECK_EVERY_MAX_MS = 1000;

/**
 * How much later than due a deadline check ran, when that is more than its interval: the thread or the
 * whole machine was held up (a VM paused, a disk that held every process's writes), and the heartbeats
 * sent meanwhile may not have been read yet, above all those a relay gathers, which was held up as well.
 * 0 when the check ran about on time.
 */
export function checkHeldUpMs(dueAt: number, now: number, intervalMs: number): number {
  const late = now - dueAt;
  return late > intervalMs ? late : 0;
}

export interface Expired {
  nodeId: string;
  sessionId: string;
  /** `heartbeat`: no heartbeat within the TTL; `disconnect`: the connection dropped and no new one came within the grace. */
  reason: 'heartbeat' | 'disconnect';
}

interface Deadlines {
  sessionId: string;
  /** The node's daemon announced it is stopping: a dropped connection sets no disconnect deadline (only the TTL holds). */
  stopping?: boolean;
  /** Heartbeat TTL. */
  deadline: number;
  /** Set while the session has no open assignment stream: the time by which one must open. */
  reconnectBy?: number;
}

/** Deadlines per session. One session per node: registering a node again replaces its old session. */
export class HeartbeatTracker {
  private byNode = new Map<string, Deadlines>();
  /** When the last scheduled check ran (catchUp). */
  private judgedAt?: number;

  constructor(private epsilonMs = HEARTBEAT_EPSILON_MS) {}

  /** Starts (or replaces) the node's session; returns the session it replaced, if any. */
  register(nodeId: string, sessionId: string, now: number, periodMs: number): string | undefined {
    const old = this.byNode.get(nodeId);
    this.byNode.set(nodeId, { sessionId, deadline: now + heartbeatTtlMs(periodMs, this.epsilonMs) });
    return old && old.sessionId !== sessionId ? old.sessionId : undefined;
  }

  /**
   * Records a heartbeat. False when the session is not the node's current one (or expired already).
   * A heartbeat does not lift a disconnect deadline: only a stream (of this or a new session) does.
   */
  beat(nodeId: string, sessionId: string, now: number, periodMs: number): boolean {
    const cur = this.byNode.get(nodeId);
    if (!cur || cur.sessionId !== sessionId) return false;
    if (now > cur.deadline || (cur.reconnectBy !== undefined && now > cur.reconnectBy)) return false;
    cur.deadline = now + heartbeatTtlMs(periodMs, this.epsilonMs);
    return true;
  }

  /**
   * The session's last assignment stream closed (connection lost): unless a stream opens again
   * within `graceMs`, the session expires then, whatever its heartbeats. False when the session is not current.
   */
  disconnected(nodeId: string, sessionId: string, now: number, graceMs: number): boolean {
    const cur = this.byNode.get(nodeId);
    if (!cur || cur.sessionId !== sessionId || cur.stopping) return false;
    cur.reconnectBy = now + graceMs;
    return true;
  }

  /** The session's daemon is stopping (a restart): from now on its connection's end leaves only the heartbeat TTL. */
  stopping(nodeId: string, sessionId: string): void {
    const cur = this.byNode.get(nodeId);
    if (!cur || cur.sessionId !== sessionId) return;
    cur.stopping = true;
    delete cur.reconnectBy;
  }

  /** An assignment stream of the session opened: a pending disconnect deadline is lifted. */
  streamOpened(nodeId: string, sessionId: string): void {
    const cur = this.byNode.get(nodeId);
    if (cur && cur.sessionId === sessionId) delete cur.reconnectBy;
  }

  /**
   * Called right before each check the dispatcher runs on its own schedule. When it comes later than
   * CHECK_EVERY_MAX_MS after the one before by more than that, every deadline moves by the delay
   * (checkHeldUpMs): a node that died meanwhile is found out that much later, and none is marked Down for
   * a pause it did not cause (swarmkit's timers all fire at once after such a pause). Checks the dispatcher
   * is asked for directly (`Dispatcher.checkHeartbeats`) judge the clock as it is.
   */
  catchUp(now: number): void {
    if (this.judgedAt !== undefined) this.postpone(checkHeldUpMs(this.judgedAt + CHECK_EVERY_MAX_MS, now, CHECK_EVERY_MAX_MS));
    this.judgedAt = now;
  }

  /** The dispatcher starts its scheduled checks (it became the leader's again): the time before is no hold-up. */
  checksStart(now: number): void {
    this.judgedAt = now;
  }

  /** Every deadline moves `ms` later (the dispatcher could not judge them for that long). */
  postpone(ms: number): void {
    if (!(ms > 0)) return;
    for (const s of this.byNode.values()) {
      s.deadline += ms;
      if (s.reconnectBy !== undefined) s.reconnectBy += ms;
    }
  }

  /** Removes and returns every session whose deadline passed. */
  expire(now: number): Expired[] {
    const out: Expired[] = [];
    for (const [nodeId, s] of this.byNode) {
      if (s.reconnectBy !== undefined && now > s.reconnectBy) out.push({ nodeId, sessionId: s.sessionId, reason: 'disconnect' });
      else if (now > s.deadline) out.push({ nodeId, sessionId: s.sessionId, reason: 'heartbeat' });
      else continue;
      this.byNode.delete(nodeId);
    }
    return out;
  }

  /** Forgets a session (closed by the dispatcher). */
  remove(nodeId: string, sessionId: string): void {
    if (this.byNode.get(nodeId)?.sessionId === sessionId) this.byNode.delete(nodeId);
  }

  sessionOf(nodeId: string): string | undefined {
    return this.byNode.get(nodeId)?.sessionId;
  }

  /** The earliest deadline, for scheduling the next check. */
  nextDeadline(): number | undefined {
    let min: number | undefined;
    for (const s of this.byNode.values()) {
      const d = s.reconnectBy === undefined ? s.deadline : Math.min(s.deadline, s.reconnectBy);
      if (min === undefined || d < min) min = d;
    }
    return min;
  }
}
