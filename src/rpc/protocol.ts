// The node-to-node services other than NodeCA (which lives with the CA): the dispatcher session an
// agent holds with a manager, and the manager-only health check. Raft's transport will be one more
// service on the same server and port.
import type { AssignmentsMessage, NodeDescription, SessionInfo, TaskStatusUpdate } from '../types';
import { ALL_NODES, MANAGERS, defineService, serverStream, unary } from './service';

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
}

export interface SessionRef {
  sessionId: string;
}

export const DispatcherService = defineService('shoal.Dispatcher', {
  Session: unary<SessionRpcRequest, SessionRpcResponse>(ALL_NODES),
  Heartbeat: unary<SessionRef, { heartbeatPeriodMs: number }>(ALL_NODES),
  Assignments: serverStream<SessionRef, AssignmentsMessage>(ALL_NODES),
  UpdateTaskStatus: unary<SessionRef & { updates: TaskStatusUpdate[] }, Record<string, never>>(ALL_NODES),
  /** The node is leaving the swarm: end the session and mark the node down now. */
  Leave: unary<SessionRef, Record<string, never>>(ALL_NODES),
});

export const HealthService = defineService('shoal.Health', {
  /** Manager-only, as swarmkit's Health service. */
  Check: unary<Record<string, never>, { status: 'SERVING' | 'NOT_SERVING' }>(MANAGERS),
});
