/** The states of the task ladder, in the Engine API's spelling. Order matters: the ranks below. */
export type TaskState =
  | 'new'
  | 'allocated'
  | 'pending'
  | 'assigned'
  | 'accepted'
  | 'preparing'
  | 'ready'
  | 'starting'
  | 'running'
  | 'complete'
  | 'shutdown'
  | 'failed'
  | 'rejected'
  | 'remove'
  | 'orphaned';


// The ladder is monotonic: a task's observed state only moves forward. The ranks are swarmkit's,
// so comparisons here read like the Go code users know from Docker's docs.
const RANK: Record<TaskState, number> = {
  new: 0,
  pending: 64,
  allocated: 128,
  assigned: 192,
  accepted: 256,
  preparing: 320,
  ready: 384,
  starting: 448,
  running: 512,
  complete: 576,
  shutdown: 640,
  failed: 704,
  rejected: 768,
  remove: 800,
  orphaned: 832,
};

export const rank = (s: TaskState): number => RANK[s];
export const isBefore = (a: TaskState, b: TaskState): boolean => RANK[a] < RANK[b];
export const isAtLeast = (a: TaskState, b: TaskState): boolean => RANK[a] >= RANK[b];
/** A task past RUNNING is done: it will never run again. */
export const isTerminal = (s: TaskState): boolean => RANK[s] > RANK.running;
/**
 * The cluster still wants the task to run: desired RUNNING (services) or COMPLETE (jobs: run until the
 * task exits; swarmkit compares `DesiredState <= COMPLETED` the same way).
 */
export const isRunnable = (desired: TaskState): boolean => RANK[desired] <= RANK.complete;

/** The states the agent drives a task through, in order, up to RUNNING. */
export const AGENT_LADDER: readonly TaskState[] = ['assigned', 'accepted', 'preparing', 'ready', 'starting', 'running'];

/** Messages Docker shows in `docker service ps` for each state. */
export const STATE_MESSAGE: Partial<Record<TaskState, string>> = {
  new: 'created',
  pending: 'pending task scheduling',
  assigned: 'scheduler assigned task to node',
  accepted: 'accepted',
  preparing: 'preparing',
  ready: 'prepared',
  starting: 'starting',
  running: 'started',
  complete: 'finished',
  shutdown: 'shutdown',
  failed: 'failed',
};
