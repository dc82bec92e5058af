// What a Dispatcher is made with (dispatcher.ts).
import type { Clock } from '../../lib/ports';
import type { MemoryStore } from '../../store';
import type { DispatcherLogger } from './logger';

export interface DispatcherOptions {
  store: MemoryStore;
  clock: Clock;
  logger?: DispatcherLogger;
  /** Manager addresses handed to agents (SessionInfo.managers). */
  managers?: () => string[];
  /** Coalescing window for assignment messages and status writes (ms). Default 10. */
  batchMs?: number;
  /** How often expired heartbeats are checked (ms). Default: a quarter of the period, at most 1000. */
  checkIntervalMs?: number;
  /** Slack added to the heartbeat TTL (3 × period). Default 500 ms. */
  heartbeatEpsilonMs?: number;
  /**
   * When a session's assignment stream closes (connection lost) and the node opens no new stream
   * within this many ms, the node is marked down then instead of after its heartbeats expire (the
   * daemon wires `disconnectGraceMs(period)` of ./core/heartbeat: 1 s, at most one period). `undefined` disables it: then,
   * as in swarmkit, only missed heartbeats mark a node down. A silent partition (no close seen) is
   * always left to the heartbeat TTL.
   */
  disconnectGraceMs?: number | (() => number | undefined);
  /**
   * The answer to every call while this dispatcher does not run, and the end of its assignment
   * streams when it stops: on a manager that lost its leadership, "not the leader" naming the leader
   * (its address crosses to the agent, which goes there next). Default: Unavailable "dispatcher is stopped".
   */
  refusal?: () => Error;
  /** Complete assignment sets on their way at once (tests). Default COMPLETE_SETS_AT_ONCE. */
  completeSetsAtOnce?: number;
}
