import { isGlobal, isRunnable, newTask, nodeMatchesConstraints, taskConstraints, type Node, type Service, type Task } from '../../../types';
import { isoTime } from '../../../lib/time';
import type { IdGen, Mutation } from './common';

export interface GlobalInput {
  service: Service;
  tasks: readonly Task[];
  nodes: readonly Node[];
  now: number;
  newId: IdGen;
}

/** Whether a global service's task may stay on `node`: it exists, is not Down or drained, and fits the constraints. */
export function globalNodeKeeps(service: Service, node: Node | undefined): boolean {
  if (!node || node.Status.State === 'down' || node.Spec.Availability === 'drain') return false;
  return nodeMatchesConstraints(taskConstraints(service.Spec.TaskTemplate), node);
}

/** Whether a global service should get a new task on `node`: Ready, active (not paused), and fits. */
export function globalNodeAccepts(service: Service, node: Node): boolean {
  return node.Status.State === 'ready' && node.Spec.Availability === 'active' && globalNodeKeeps(service, node);
}

/**
 * One runnable task per eligible node. Tasks on nodes that are gone, Down, drained or no longer
 * match the constraints get DesiredState SHUTDOWN; eligible nodes without a runnable task get one
 * (NodeID set at creation). Out-of-date tasks are the update supervisor's.
 */
export function reconcileGlobal(input: GlobalInput): Mutation[] {
  const { service, tasks, nodes, now, newId } = input;
  if (!isGlobal(service)) return [];
  const byId = new Map(nodes.map((n) => [n.ID, n]));
  const covered = new Set<string>();
  const out: Mutation[] = [];
  for (const t of tasks) {
    if (!isRunnable(t.DesiredState) || !t.NodeID) continue;
    if (globalNodeKeeps(service, byId.get(t.NodeID))) covered.add(t.NodeID);
    else out.push({ op: 'update', task: { ...t, DesiredState: 'shutdown', UpdatedAt: isoTime(now) } });
  }
  const sorted = [...nodes].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  for (const n of sorted) {
    if (covered.has(n.ID) || !globalNodeAccepts(service, n)) continue;
    out.push({ op: 'create', task: newTask({ id: newId(), service, nodeId: n.ID, now }) });
  }
  return out;
}
