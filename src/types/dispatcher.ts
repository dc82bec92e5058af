import type { Task, TaskStatus } from './task';
import type { NodeDescription } from './node';
import type { NodeNetworkView, TaskEndpoint } from './network';
import type { Config, Secret } from './secret';

// The agent ⇄ dispatcher protocol. In one process (a single-node manager) the agent calls the
// dispatcher directly; across nodes the same messages travel over mutual-TLS gRPC (src/rpc/).

/**
 * The cap of an agent's reconnect backoff (ms). The dispatcher reads it too: a node a new leader finds
 * without a session must get at least one try past it before it is marked Down.
 */
export const AGENT_MAX_BACKOFF_MS = 5000;

export interface SessionRequest {
  /** The node's ID (from its certificate across nodes). */
  nodeId: string;
  description: NodeDescription;
  /** The address other nodes reach this node at (host part of the advertise address). */
  addr: string;
}

export interface SessionInfo {
  sessionId: string;
  /** How often the agent must heartbeat, in milliseconds. */
  heartbeatPeriodMs: number;
  /** Manager addresses (host:port) the agent may reconnect to. */
  managers: string[];
  /**
   * The manager sends the node's log subscriptions on its assignment stream (`logSubscriptions`), so the
   * agent opens no LogSubscriptions stream. A manager of the previous release does not say so.
   */
  logSubscriptionsOnAssignments?: boolean;
}

/** One message of the assignment stream. `complete` replaces the agent's whole set; `incremental` patches it. */
export interface AssignmentsMessage {
  type: 'complete' | 'incremental';
  /** Tasks to run or keep (their DesiredState says what to do). */
  updateTasks: Task[];
  /** Task IDs the agent must forget (after removing their runtime objects). */
  removeTasks: string[];
  /** The node's network view (routing mesh table), whole, when it changed since the last message. */
  network?: NodeNetworkView;
  /** The dispatcher's number of `network`: the node acknowledges it once its mesh applied it (`meshApplied`). */
  networkVersion?: number;
  /**
   * Secrets and configs (with their data) that the node's tasks use and the agent does not have yet;
   * `complete` carries the whole set. The agent keeps them in memory only.
   */
  updateSecrets?: Secret[];
  updateConfigs?: Config[];
  /** IDs of secrets and configs no task of the node needs any more: the agent forgets them. */
  removeSecrets?: string[];
  removeConfigs?: string[];
  /**
   * Log subscriptions for the node's tasks, and their cancellations (`close`), as the manager's log broker
   * publishes them: one stream per node fewer than a LogSubscriptions stream beside it (issue 15: each open
   * stream costs its manager ≈ 17 KiB, half of it V8's heap).
   */
  logSubscriptions?: LogSubscriptionMessage[];
}

export interface LogSubscriptionOptions {
  follow: boolean;
  tail: number | 'all';
  timestamps: boolean;
  /** Seconds since the epoch (fractional); 0 or absent = from the start. */
  since?: number;
}

/** A log subscription published to the node that holds the tasks; `close` cancels it. */
export interface LogSubscriptionMessage {
  id: string;
  taskIds: string[];
  options: LogSubscriptionOptions;
  close?: boolean;
}


export interface TaskStatusUpdate {
  taskId: string;
  status: TaskStatus;
  health?: 'starting' | 'healthy' | 'unhealthy';
  /** Where the task is reached for its published ports (process runtime). */
  endpoints?: TaskEndpoint[];
}

/** What an agent needs from a dispatcher. Every call names the session; a stale one fails with Unavailable/NotFound. */
export interface DispatcherApi {
  session(req: SessionRequest): Promise<SessionInfo>;
  heartbeat(sessionId: string): Promise<{ heartbeatPeriodMs: number }>;
  /** Streams assignments until the session ends or `signal` aborts. The first message is `complete`. */
  assignments(sessionId: string, signal: AbortSignal): AsyncIterable<AssignmentsMessage>;
  updateTaskStatus(sessionId: string, updates: TaskStatusUpdate[]): Promise<void>;
  /**
   * The node's routing mesh forwards by the network view numbered `version` now (kernel map and conntrack
   * included). Optional: a dispatcher without it makes drains wait their whole bound.
   */
  meshApplied?(sessionId: string, version: number): Promise<void>;
  /** Of `taskIds`, those no connected node's mesh sends new connections to; waits up to `waitMs` for all of them. */
  meshDrained?(sessionId: string, taskIds: string[], waitMs: number): Promise<string[]>;
  /**
   * The node's daemon is stopping (a restart, an upgrade): its session's end is not a crash, so the node stays Ready
   * until its heartbeats expire, as in Docker, instead of being Down after the short disconnect grace. Optional.
   */
  daemonStopping?(sessionId: string): Promise<void>;
}
