import type { Config, Secret, Task, TaskEndpoint } from '../../types';

/**
 * The contract between the agent's task managers and a runtime (docker or process).
 * The agent decides *what* state a task should reach; a controller only does one step at a time
 * and reports facts (container ID, PID, exit code, health). It never writes task status itself.
 */
export interface Executor {
  readonly name: 'docker' | 'process' | 'fake';
  /** Facts about this node the manager needs for scheduling and `docker node ls`. */
  describe(): Promise<ExecutorDescription>;
  /**
   * A controller for one task. Cheap: may be called again for the same task after a daemon restart.
   * `deps`: the secrets and configs the dispatcher sent this node (files the task gets).
   */
  controller(task: Task, deps?: TaskDependencies): TaskController;
  /** Task IDs of every runtime object (container/process) this executor still holds, running or not. */
  listTaskIds(): Promise<string[]>;
  /** Frees what the executor holds (connections, watchers). Running tasks stay running. */
  close(): Promise<void>;
}

/** The secrets and configs this node holds, in memory only (src/agent/dependencies.ts). */
export interface TaskDependencies {
  secret(id: string): Secret | undefined;
  config(id: string): Config | undefined;
}

export interface ExecutorDescription {
  hostname: string;
  os: string;
  architecture: string;
  nanoCPUs: number;
  memoryBytes: number;
  engineVersion: string;
  engineLabels?: Record<string, string>;
  plugins?: { Type: string; Name: string }[];
}

export interface RuntimeStatus {
  containerId?: string;
  pid?: number;
  exitCode?: number;
  /** True while the container/process runs. */
  running: boolean;
  /** 'starting' | 'healthy' | 'unhealthy' when a health check is configured. */
  health?: 'starting' | 'healthy' | 'unhealthy';
  /** Where the task is reached for its service's published ports, when not at its own address (process runtime). */
  endpoints?: TaskEndpoint[];
}

export interface ExitResult {
  exitCode: number;
  /** Docker's wording for failures, e.g. "task: non-zero exit (137)"; empty on exit 0. */
  error?: string;
}

export interface LogOptions {
  follow: boolean;
  /** Number of lines from the end, or 'all'. */
  tail: number | 'all';
  timestamps: boolean;
  /** Seconds since the epoch (may be fractional); 0 = from the start. */
  since?: number;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** Milliseconds since the epoch when the line was written. */
  time: number;
  /** The line's bytes including its trailing newline. */
  data: Buffer;
}

export interface TaskController {
  /** Makes everything ready to start: image present (no pull if present locally), container created. Idempotent. */
  prepare(): Promise<void>;
  /** Starts it. Idempotent when already running. */
  start(): Promise<void>;
  /** Resolves when the container/process exits (also one that exited before the call). */
  wait(signal?: AbortSignal): Promise<ExitResult>;
  /** Graceful stop: stop signal, then kill after `graceMs`. Resolves when stopped. */
  shutdown(graceMs: number): Promise<void>;
  /** Immediate kill. */
  terminate(): Promise<void>;
  /** Removes the container/process record and its logs. */
  remove(): Promise<void>;
  /** Current facts; `undefined` when nothing exists for the task. */
  inspect(): Promise<RuntimeStatus | undefined>;
  /** The task's output. With follow, the iterable ends when the task exits or the signal aborts. */
  logs(opts: LogOptions, signal?: AbortSignal): AsyncIterable<LogLine>;
  /** Health transitions, if the task has a health check (docker: engine health; process: run by the agent). */
  onHealth?(listener: (h: 'starting' | 'healthy' | 'unhealthy') => void): () => void;
}

/** Docker's text for a task whose container exited with a non-zero code. */
export const nonZeroExit = (code: number): string => `task: non-zero exit (${code})`;
