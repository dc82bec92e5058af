// The node-to-node services other than NodeCA (which lives with the CA): the dispatcher session an
// agent holds with a manager, and the manager-only health check. Raft's transport will be one more
// service on the same server and port.
import type { AssignmentsMessage, LogSubscriptionMessage, NodeDescription, SessionInfo, TaskStatusUpdate } from '../types';

export type { LogSubscriptionMessage, LogSubscriptionOptions } from '../types';
import { ALL_NODES, MANAGERS, bidi, clientStream, defineService, serverStream, unary } from './service';

export interface SessionRpcRequest {
  description: NodeDescription;
  /** The address other nodes reach the caller at. The node ID is never taken from the request: it is the certificate's CN. */
  addr: string;
}

export interface ManagerRef {
  nodeId: string;
  addr: string;
}

export interface SessionRpcResponse extends SessionInfo {
  /** The caller's node ID as the manager saw it in the certificate. */
  nodeId: string;
  /** Managers with their node IDs (what `docker info` shows as Manager Addresses on a worker). */
  managerNodes: ManagerRef[];
  ca?: CATarget;
}

export interface SessionRef {
  sessionId: string;
}

/** One heartbeat on a node's Heartbeats stream: its session, and how long the node waits for the answer (ms). */
export interface HeartbeatRequest extends SessionRef {
  timeoutMs?: number;
}

/** One batch of a node's status reports (UpdateTaskStatus, or a message on its TaskStatusUpdates stream, with how long the node waits for the answer in ms). */
export interface TaskStatusRequest extends SessionRef {
  updates: TaskStatusUpdate[];
  timeoutMs?: number;
}

/**
 * What the cluster's CA expects of a node, sent with every session and heartbeat response (the way
 * swarmkit's session messages carry the RootCA and the node's desired role): the node stores
 * `trustRoot` as its root bundle when it differs, and renews its certificate when the certificate's
 * issuer key is not `issuerPublicKey` (root rotation) or its OU is not `role` (promotion/demotion).
 */
export interface CATarget {
  /** PEM bundle the node should trust (old + new root during a rotation). */
  trustRoot: string;
  /** base64 SPKI DER of the key that signs certificates now. */
  issuerPublicKey: string;
  /** The role the node has in the store. */
  role?: 'worker' | 'manager';
}

/** One node's call in a relay's batch (RelayedHeartbeats, RelayedTaskStatus): the node the relay verified, and its session. */
export interface RelayedEntry {
  nodeId: string;
  sessionId: string;
}

/** One entry's outcome in a relay's batch: its answer, or its error as the leader would have raised it. */
export type RelayedResult<T> = { ok: T } | { err: { kind: string; message: string; reason?: string } };

export interface HeartbeatRpcResponse {
  heartbeatPeriodMs: number;
  ca?: CATarget;
  /** The current managers (so a node learns of managers that joined after its session started). */
  managerNodes?: ManagerRef[];
}

export interface PublishedLogLine {
  taskId: string;
  serviceId: string;
  nodeId: string;
  stream: 'stdout' | 'stderr';
  /** ms since the epoch */
  time: number;
  data: Uint8Array;
}

/** One message of the PublishLogs client stream; `close` = this subscription is complete on this node. */
export interface PublishLogsMessage {
  subscriptionId: string;
  lines: PublishedLogLine[];
  close?: boolean;
}

/**
 * Every method is relayable: an agent may hold its session through any manager, which relays its calls to
 * the leader (manager/dispatcher/relay.ts), as swarmkit's managers proxy the dispatcher to theirs.
 */
const relayable = { relayable: true };

export const DispatcherService = defineService('shoal.Dispatcher', {
  Session: unary<SessionRpcRequest, SessionRpcResponse>(ALL_NODES, relayable),
  Heartbeat: unary<SessionRef, HeartbeatRpcResponse>(ALL_NODES, relayable),
  /**
   * The same heartbeats on one stream for the session's life: each message is answered as Heartbeat
   * would answer it, in order, and a refusal ends the stream. A call costs both sides a new HTTP/2 stream,
   * its headers and metadata; a message on an open stream costs half of it (issue 15: heartbeats were
   * the whole CPU of an idle cluster). A manager relays the messages in its gathered RelayedHeartbeats.
   * Agents fall back to Heartbeat where a manager of the previous release answers Unimplemented.
   */
  Heartbeats: bidi<HeartbeatRequest, HeartbeatRpcResponse>(ALL_NODES),
  Assignments: serverStream<SessionRef, AssignmentsMessage>(ALL_NODES, { ...relayable, oneWriteAtATime: true }),
  UpdateTaskStatus: unary<TaskStatusRequest, Record<string, never>>(ALL_NODES, relayable),
  /**
   * The same reports on one stream for the session's life, as Heartbeats is to Heartbeat: each message is
   * answered once its reports are written, in order, and a refusal ends the stream. An agent sends one
   * batch at a time, so the order costs it nothing; a relay puts the messages in its RelayedTaskStatus
   * batches. Agents fall back to UpdateTaskStatus on Unimplemented.
   */
  TaskStatusUpdates: bidi<TaskStatusRequest, Record<string, never>>(ALL_NODES),
  /** The node's routing mesh applied the network view numbered `version` (drain acknowledgement). */
  MeshApplied: unary<SessionRef & { version: number }, Record<string, never>>(ALL_NODES, relayable),
  /** Of `taskIds`, those no connected node's mesh sends new connections to; waits up to `waitMs` for all. */
  MeshDrained: unary<SessionRef & { taskIds: string[]; waitMs: number }, { drained: string[] }>(ALL_NODES, relayable),
  /** The node's daemon is stopping: its connection's end is no crash, the node is Down only when its heartbeats expire. */
  DaemonStopping: unary<SessionRef, Record<string, never>>(ALL_NODES, relayable),
  /** The node is leaving the swarm: end the session and mark the node down now. */
  Leave: unary<SessionRef, Record<string, never>>(ALL_NODES, relayable),
  /** Log subscriptions for tasks on the calling node (swarmkit's ListenSubscriptions), for the session's life. */
  LogSubscriptions: serverStream<SessionRef, LogSubscriptionMessage>(ALL_NODES, relayable),
  /** The node's answer to one subscription: lines, then a `close` marker (swarmkit's PublishLogs). */
  PublishLogs: clientStream<PublishLogsMessage, Record<string, never>>(ALL_NODES, relayable),
  /**
   * Only from a relaying manager: the node's own connection to it dropped while its assignment stream was
   * relayed (the leader sees the end of the relayed stream alone, which a relay's own death causes too).
   */
  RelayedConnectionLost: unary<SessionRef, Record<string, never>>(ALL_NODES, relayable),
  /**
   * A relay's heartbeats and status reports of many nodes in one call each, sent by the relaying manager
   * itself (managers only; each entry names the node whose certificate the relay verified): one call a
   * batch instead of one per node on the leader and on the relay's connection to it.
   */
  RelayedHeartbeats: unary<{ entries: RelayedEntry[] }, { results: RelayedResult<HeartbeatRpcResponse>[] }>(MANAGERS),
  RelayedTaskStatus: unary<{ entries: (RelayedEntry & { updates: TaskStatusUpdate[] })[] }, { results: RelayedResult<Record<string, never>>[] }>(MANAGERS),
});

export const HealthService = defineService('shoal.Health', {
  /** Manager-only, as swarmkit's Health service. */
  Check: unary<Record<string, never>, { status: 'SERVING' | 'NOT_SERVING' }>(MANAGERS),
});
