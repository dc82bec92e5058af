import type { Task } from './task';
import type { Service } from './service';
import { serviceNetworkTargets } from './network';
import { isTerminal, STATE_MESSAGE } from './task-state';

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

/**
 * True when a task of `service` needs the allocator before it can be scheduled: an address on a network
 * (one of the service's own, or `ingress` for a port published in ingress mode) or the service's published
 * ports to carry (the allocator copies Endpoint.Ports into the task for the process runtime). Conservative:
 * a named network counts even if it no longer exists. A task that needs neither would only be moved
 * NEW → PENDING by the allocator, one store write after its creation, so `newTask` starts it PENDING
 * (`handedToScheduler`).
 */
export function needsAllocation(service: Service): boolean {
  return serviceNetworkTargets(service.Spec).length > 0 || (service.Spec.EndpointSpec?.Ports?.length ?? 0) > 0 || (service.Endpoint?.Ports?.length ?? 0) > 0;
}

/** The task handed on to the scheduler: PENDING, "pending task scheduling" (what the allocator writes once it is allocated). */
export function handedToScheduler(t: Task, ts: string): Task {
  return { ...t, UpdatedAt: ts, Status: { ...t.Status, State: 'pending', Message: STATE_MESSAGE.pending ?? 'pending task scheduling', Timestamp: ts } };
}
