// What the Engine API's swarm backend (backend.ts) needs from the node, and nothing more: the
// daemon implements it; the backend never sees the daemon, its roles or its transport.
import type { Logger } from 'pino';
import type { InitRequest, JoinRequest } from '../api/backend';
import type { LogLine, LogOptions } from '../agent/executor/types';
import type { Manager } from '../manager/manager';
import type { SwarmState } from './state';

/** The running manager as the API sees it: its control API (run here or forwarded to the leader) and its store's events. */
export type ManagerAccess = Pick<Manager, 'controlapi' | 'control' | 'store'>;

/** One task's log lines: this node's from its agent, another node's through the broker or the leader (task-logs.ts). */
export type OpenTaskLogs = (nodeId: string, taskId: string, options: LogOptions, signal: AbortSignal) => AsyncIterable<LogLine>;

export interface NodeServices {
  readonly logger: Logger;
  /** This node's place in its swarm; undefined while it is in none. */
  swarm(): SwarmState | undefined;
  /** Autolock: a restarted manager waiting for its unlock key. */
  locked(): boolean;
  /** The manager role, while this node runs it. */
  manager(): ManagerAccess | undefined;
  /** Where task log lines are read; undefined while this node runs no agent. */
  taskLogs(): OpenTaskLogs | undefined;
  init(req: InitRequest): Promise<string>;
  join(req: JoinRequest): Promise<void>;
  leave(force: boolean): Promise<void>;
  unlock(key: string): Promise<void>;
}
