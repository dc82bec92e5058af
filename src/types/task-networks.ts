import type { Task } from './task';
import { isTerminal } from './task-state';

/**
 * A task holds its network addresses until it stops (a stopped task's may be handed out again), and
 * while it holds them its node is on those networks: it needs its own address and the overlay there.
 */
export const holdsAddresses = (t: Task): boolean => !isTerminal(t.Status.State);

/** Node ID → the IDs of the swarm networks it has tasks on (tasks that hold their addresses). */
export function networksByNode(tasks: Iterable<Task>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const t of tasks) {
    if (!t.NodeID || !holdsAddresses(t) || !t.NetworksAttachments?.length) continue;
    let set = out.get(t.NodeID);
    if (!set) out.set(t.NodeID, (set = new Set()));
    for (const a of t.NetworksAttachments) set.add(a.Network.ID);
  }
  return out;
}
