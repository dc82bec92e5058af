import type { Service } from './service';
import type { Task } from './task';
import { isRunnable, STATE_MESSAGE } from './task-state';
import { isoTime } from '../lib/time';
import { handedToScheduler, needsAllocation } from './task-networks';

// A slot is one replica position of a service: tasks of a replicated service share a Slot number;
// tasks of a global service share a node. The orchestrators, the restart supervisor and the update
// supervisor all reason per slot, so the grouping lives here once.

export type SlotKey = string;

// Replicated job slots count from 0 (swarmkit's, and the CLI's job progress reads them so), so any Slot
// present names a slot; global tasks carry none.
export const slotKeyOf = (t: Pick<Task, 'Slot' | 'NodeID'>): SlotKey => (t.Slot !== undefined && t.Slot >= 0 ? `slot:${t.Slot}` : `node:${t.NodeID ?? ''}`);

/** Groups a service's tasks by slot. */
export function groupBySlot(tasks: readonly Task[]): Map<SlotKey, Task[]> {
  const m = new Map<SlotKey, Task[]>();
  for (const t of tasks) {
    const k = slotKeyOf(t);
    const list = m.get(k);
    if (list) list.push(t);
    else m.set(k, [t]);
  }
  return m;
}

/** Tasks the cluster still wants running (desired state at most RUNNING, or COMPLETE for jobs). */
export const runnableTasks = (tasks: Task[]): Task[] => tasks.filter((t) => isRunnable(t.DesiredState));

/**
 * Whether a stopped task's RestartPolicy condition asks for a replacement (its MaxAttempts and Window
 * aside, which need the restart supervisor's history). A job's task runs to completion: by default only
 * a failure is retried (the CLI's job default); on-failure counts anything but a clean exit, a lost
 * node included (swarmkit's reading).
 */
export function restartConditionAllows(t: Pick<Task, 'Spec' | 'JobIteration' | 'Status'>): boolean {
  const cond = t.Spec.RestartPolicy?.Condition ?? (t.JobIteration ? 'on-failure' : 'any');
  if (t.JobIteration && t.Status.State === 'complete') return false;
  if (cond === 'none') return false;
  return !(cond === 'on-failure' && t.Status.State === 'complete');
}

/**
 * A fresh task for `service` in `slot` (replicated) or on `nodeId` (global). It starts where its next
 * step is: NEW for the allocator when it needs an address or ports (`needsAllocation`), else PENDING for
 * the scheduler, as the allocator would write it one store write later (issue 15: that write was a
 * quarter of the writes of a 100,000-replica create, each waiting on the one before). Its `Spec` is the
 * service's task template itself.
 */
export function newTask(args: {
  id: string;
  service: Service;
  slot?: number;
  nodeId?: string;
  now: number;
  desiredState?: Task['DesiredState'];
  /** Jobs: the iteration the task belongs to. */
  jobIteration?: number;
}): Task {
  const { id, service, slot, nodeId, now } = args;
  const ts = isoTime(now);
  const task: Task = {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: ts,
    UpdatedAt: ts,
    Labels: {},
    // not a copy: the store copies it when the task is written, once per write for all the tasks made
    // from it (storedVersion), and nothing changes a task's spec in place
    Spec: service.Spec.TaskTemplate,
    ServiceID: service.ID,
    ...(slot !== undefined ? { Slot: slot } : {}),
    ...(nodeId !== undefined ? { NodeID: nodeId } : {}),
    Status: { Timestamp: ts, State: 'new', Message: STATE_MESSAGE.new ?? 'created' },
    DesiredState: args.desiredState ?? 'running',
    ...(args.jobIteration !== undefined ? { JobIteration: { Index: args.jobIteration } } : {}),
    internal: { specVersion: service.internal.specVersion, serviceName: service.Spec.Name },
  };
  return needsAllocation(service) ? task : handedToScheduler(task, ts);
}
