import { groupBySlot, isBefore, isRunnable, isTerminal, type Node, type Task } from '../../../types';

export interface ReapInput {
  /** Tasks of one service (the service may be gone). */
  tasks: readonly Task[];
  nodes: ReadonlyMap<string, Node>;
  /** Cluster.Spec.Orchestration.TaskHistoryRetentionLimit; negative disables history trimming. */
  retention: number;
}

/** A task to be removed can go once it is stopped, was never assigned, or its node is gone or Down. */
export function removable(t: Task, nodes: ReadonlyMap<string, Node>): boolean {
  if (t.DesiredState !== 'remove') return false;
  if (isTerminal(t.Status.State) || !t.NodeID || isBefore(t.Status.State, 'assigned')) return true;
  const n = nodes.get(t.NodeID);
  return !n || n.Status.State === 'down';
}

/**
 * The task reaper's decisions for one service: the IDs of tasks to delete. Tasks with DesiredState
 * REMOVE go as soon as `removable`; then each slot keeps at most `retention` tasks, dropping the
 * oldest ones that are both stopped and no longer wanted (DesiredState past RUNNING).
 */
export function reapService(input: ReapInput): string[] {
  const { tasks, nodes, retention } = input;
  const dead = new Set<string>();
  for (const t of tasks) if (removable(t, nodes)) dead.add(t.ID);
  if (retention >= 0) {
    for (const slot of groupBySlot(tasks.filter((t) => !dead.has(t.ID))).values()) {
      let excess = slot.length - retention;
      if (excess <= 0) continue;
      const old = slot
        .filter((t) => !isRunnable(t.DesiredState) && isTerminal(t.Status.State))
        .sort((a, b) => (a.CreatedAt < b.CreatedAt ? -1 : a.CreatedAt > b.CreatedAt ? 1 : a.ID < b.ID ? -1 : 1));
      for (const t of old) {
        if (excess-- <= 0) break;
        dead.add(t.ID);
      }
    }
  }
  return [...dead].sort();
}
