import { isAtLeast, isRunnable, isTerminal, nodeMatchesConstraints, reservationsOf, taskConstraints, type Node, type Task } from '../../../types';
import { isoTime } from '../../../lib/time';
import type { Mutation } from './common';

export const ENFORCER_MESSAGE = 'task rejected by constraint enforcer';
export const ENFORCER_ERR = 'assigned node no longer meets constraints';

/**
 * The constraint enforcer's decisions for one node: tasks assigned to it that are wanted and not yet
 * stopped, but whose constraints the node no longer satisfies, or that no longer fit its resources
 * (newest dropped first), are marked REJECTED (observed state, as Docker does): the restart supervisor
 * then shuts them down and replaces them elsewhere.
 */
export function enforceNode(node: Node, tasks: readonly Task[], now: number): Mutation[] {
  const live = tasks
    .filter((t) => t.NodeID === node.ID && isRunnable(t.DesiredState) && !isTerminal(t.Status.State) && isAtLeast(t.Status.State, 'assigned'))
    .sort((a, b) => (a.CreatedAt < b.CreatedAt ? -1 : a.CreatedAt > b.CreatedAt ? 1 : a.ID < b.ID ? -1 : 1));
  const reject = new Set<string>();
  for (const t of live) if (!nodeMatchesConstraints(taskConstraints(t.Spec), node)) reject.add(t.ID);
  const keep = live.filter((t) => !reject.has(t.ID));
  const cap = { cpu: node.Description?.Resources?.NanoCPUs ?? 0, mem: node.Description?.Resources?.MemoryBytes ?? 0 };
  let cpu = 0;
  let mem = 0;
  for (const t of keep) {
    const r = reservationsOf(t.Spec);
    cpu += r.NanoCPUs;
    mem += r.MemoryBytes;
  }
  for (let i = keep.length - 1; i >= 0 && (cpu > cap.cpu || mem > cap.mem); i--) {
    const t = keep[i]!;
    const r = reservationsOf(t.Spec);
    if (r.NanoCPUs === 0 && r.MemoryBytes === 0) continue;
    reject.add(t.ID);
    cpu -= r.NanoCPUs;
    mem -= r.MemoryBytes;
  }
  const ts = isoTime(now);
  return live
    .filter((t) => reject.has(t.ID))
    .map((t) => ({
      op: 'update' as const,
      task: { ...t, UpdatedAt: ts, Status: { ...t.Status, State: 'rejected' as const, Message: ENFORCER_MESSAGE, Err: ENFORCER_ERR, Timestamp: ts } },
    }));
}
