import { isGlobalJob, isReplicatedJob, isRunnable, isTerminal, jobIterationOf, newTask, type Node, type Service, type Task } from '../../../types';
import { isoTime } from '../../../lib/time';
import { globalNodeAccepts, globalNodeKeeps } from './global';
import type { IdGen, Mutation } from './common';

// Jobs (swarmkit's manager/orchestrator/jobs): tasks are made with DesiredState COMPLETE and run until
// they exit. A task that completes is never replaced; one that fails is the restart supervisor's (it
// replaces it in the same slot, or on the same node, per the restart policy). Every service update
// bumps JobStatus.JobIteration (control API), and tasks of an older iteration are stopped here.

export interface JobInput {
  service: Service;
  /** Every task of the service. */
  tasks: readonly Task[];
  now: number;
  newId: IdGen;
  /** Creates at most this many tasks (the rest is left to the next pass). */
  limit?: number;
}

const inIteration = (t: Task, iteration: number): boolean => t.JobIteration?.Index === iteration;

/**
 * Tasks of an earlier iteration the cluster still wants: a live one is removed (its slot belongs to the
 * new run), a finished one is marked SHUTDOWN so no count or restart looks at it again.
 */
function retireOldIterations(tasks: readonly Task[], iteration: number, now: number): Mutation[] {
  const out: Mutation[] = [];
  for (const t of tasks) {
    if (inIteration(t, iteration) || !isRunnable(t.DesiredState)) continue;
    const desired = isTerminal(t.Status.State) ? 'shutdown' : 'remove';
    out.push({ op: 'update', task: { ...t, DesiredState: desired, UpdatedAt: isoTime(now) } });
  }
  return out;
}

/** What a replicated job's current iteration looks like: used slots, tasks complete, tasks still wanted. */
export function replicatedJobProgress(tasks: readonly Task[], iteration: number): { usedSlots: Set<number>; completed: number; active: number } {
  const usedSlots = new Set<number>();
  let completed = 0;
  let active = 0;
  for (const t of tasks) {
    if (!inIteration(t, iteration) || t.Slot === undefined) continue;
    // Any task of this run marks its slot used: a failed task's slot is refilled only by the restart
    // supervisor, so a restart policy that gives up leaves the slot empty (as in swarmkit).
    usedSlots.add(t.Slot);
    if (t.Status.State === 'complete') completed++;
    else if (isRunnable(t.DesiredState)) active++;
  }
  return { usedSlots, completed, active };
}

/**
 * A replicated job: run until TotalCompletions tasks have completed, at most MaxConcurrent at a time.
 * New tasks take the lowest slots (0-based, as swarmkit numbers them) never used in this iteration.
 */
export function reconcileReplicatedJob(input: JobInput): Mutation[] {
  const { service, tasks, now, newId } = input;
  const job = service.Spec.Mode.ReplicatedJob;
  if (!isReplicatedJob(service) || !job) return [];
  const iteration = jobIterationOf(service);
  const out = retireOldIterations(tasks, iteration, now);
  const maxConcurrent = job.MaxConcurrent ?? 1;
  const total = job.TotalCompletions ?? maxConcurrent;
  const { usedSlots, completed, active } = replicatedJobProgress(tasks, iteration);
  let need = Math.max(0, Math.min(maxConcurrent - active, total - completed - active, input.limit ?? Infinity));
  for (let slot = 0; need > 0 && slot < total; slot++) {
    if (usedSlots.has(slot)) continue;
    out.push({ op: 'create', task: newTask({ id: newId(), service, slot, now, desiredState: 'complete', jobIteration: iteration }) });
    need--;
  }
  return out;
}

export interface GlobalJobInput extends JobInput {
  nodes: readonly Node[];
}

/** When the current iteration started (ms): JobStatus.LastExecution, else the service's creation. */
export function lastExecutionMs(service: Service): number {
  const t = Date.parse(service.JobStatus?.LastExecution ?? service.CreatedAt);
  return Number.isNaN(t) ? Infinity : t;
}

/**
 * A global job: one task per node that is ready, active, fits the constraints and existed when the
 * iteration started (swarmkit's rule: nodes joining later do not run it). A node with a task of this
 * iteration (running, complete, or failed) gets no other; tasks still running
 * on nodes gone, Down or drained are shut down.
 */
export function reconcileGlobalJob(input: GlobalJobInput): Mutation[] {
  const { service, tasks, nodes, now, newId } = input;
  if (!isGlobalJob(service)) return [];
  const iteration = jobIterationOf(service);
  const out = retireOldIterations(tasks, iteration, now);
  const byId = new Map(nodes.map((n) => [n.ID, n]));
  const covered = new Set<string>();
  for (const t of tasks) {
    if (!inIteration(t, iteration) || !t.NodeID) continue;
    // Any task of this run covers its node: a failed one is the restart supervisor's to replace, and
    // a restart policy that gives up leaves the node without one (as for replicated jobs).
    covered.add(t.NodeID);
    if (isRunnable(t.DesiredState) && !isTerminal(t.Status.State) && !globalNodeKeeps(service, byId.get(t.NodeID))) {
      out.push({ op: 'update', task: { ...t, DesiredState: 'shutdown', UpdatedAt: isoTime(now) } });
    }
  }
  const startedAt = lastExecutionMs(service);
  const sorted = [...nodes].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  for (const n of sorted) {
    if (covered.has(n.ID) || !globalNodeAccepts(service, n)) continue;
    const created = Date.parse(n.CreatedAt);
    if (!Number.isNaN(created) && created > startedAt) continue;
    out.push({ op: 'create', task: newTask({ id: newId(), service, nodeId: n.ID, now, desiredState: 'complete', jobIteration: iteration }) });
  }
  return out;
}
