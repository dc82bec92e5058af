// Heartbeat bookkeeping of the dispatcher: who must beat by when. Time comes in as `now` (ms).

/** swarmkit's rule: a node is down after missing its heartbeats for 3 periods. */
export const HEARTBEAT_GRACE_MULTIPLIER = 3;
/** Slack on top of the TTL so a heartbeat sent exactly on time is never judged late. */
export const HEARTBEAT_EPSILON_MS = 500;
export const DEFAULT_HEARTBEAT_PERIOD_MS = 5000;

/** The period agents must beat at, from Cluster.Spec.Dispatcher.HeartbeatPeriod (ns). */
export function heartbeatPeriodMs(periodNs: number | undefined): number {
  if (!periodNs || !Number.isFinite(periodNs) || periodNs <= 0) return DEFAULT_HEARTBEAT_PERIOD_MS;
  return Math.max(1, Math.round(periodNs / 1_000_000));
}

/** How long after a heartbeat (or session start) a node is still considered alive. */
export const heartbeatTtlMs = (periodMs: number, epsilonMs = HEARTBEAT_EPSILON_MS): number => HEARTBEAT_GRACE_MULTIPLIER * periodMs + epsilonMs;

export interface Expired {
  nodeId: string;
  sessionId: string;
}

/** Deadlines per session. One session per node: registering a node again replaces its old session. */
export class HeartbeatTracker {
  private byNode = new Map<string, { sessionId: string; deadline: number }>();

  constructor(private epsilonMs = HEARTBEAT_EPSILON_MS) {}

  /** Starts (or replaces) the node's session; returns the session it replaced, if any. */
  register(nodeId: string, sessionId: string, now: number, periodMs: number): string | undefined {
    const old = this.byNode.get(nodeId);
    this.byNode.set(nodeId, { sessionId, deadline: now + heartbeatTtlMs(periodMs, this.epsilonMs) });
    return old && old.sessionId !== sessionId ? old.sessionId : undefined;
  }

  /** Records a heartbeat. False when the session is not the node's current one (or expired already). */
  beat(nodeId: string, sessionId: string, now: number, periodMs: number): boolean {
    const cur = this.byNode.get(nodeId);
    if (!cur || cur.sessionId !== sessionId) return false;
    if (now > cur.deadline) return false;
    cur.deadline = now + heartbeatTtlMs(periodMs, this.epsilonMs);
    return true;
  }

  /** Removes and returns every session whose deadline passed. */
  expire(now: number): Expired[] {
    const out: Expired[] = [];
    for (const [nodeId, s] of this.byNode) {
      if (now > s.deadline) {
        out.push({ nodeId, sessionId: s.sessionId });
        this.byNode.delete(nodeId);
      }
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
    for (const s of this.byNode.values()) if (min === undefined || s.deadline < min) min = s.deadline;
    return min;
  }
}
