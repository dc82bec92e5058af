import { portKey } from '../../../lib/ingress-ports';
import { isRunnable, isTerminal, reservationsOf, type Node, type Task } from '../../../types';

/** What the scheduler knows about one node: the node and the load its live tasks put on it. */
export interface NodeInfo {
  node: Node;
  /** Tasks that are wanted (DesiredState ≤ running) and not stopped, per service. */
  activeByService: Map<string, number>;
  /** Same, all services. */
  active: number;
  /** Reservations of every task on the node that has not stopped yet (wanted or not). */
  reserved: { NanoCPUs: number; MemoryBytes: number };
  /** Host-mode published ports its tasks that have not stopped hold ("tcp/8080"). */
  hostPorts: Set<string>;
}

export function emptyInfo(node: Node): NodeInfo {
  return { node, activeByService: new Map(), active: 0, reserved: { NanoCPUs: 0, MemoryBytes: 0 }, hostPorts: new Set() };
}

/** The host-mode ports a task binds on its node ("tcp/8080"); a dynamic one (0) binds no fixed port. */
export function hostPortsOf(t: Task): string[] {
  return (t.internal.ports ?? []).filter((p) => p.PublishMode === 'host' && p.PublishedPort).map((p) => portKey(p.Protocol, p.PublishedPort!));
}

/** Accounts a task on its node (a task placed by the scheduler is accounted the same way). */
export function addTask(info: NodeInfo, t: Task): void {
  if (isTerminal(t.Status.State)) return;
  const r = reservationsOf(t.Spec);
  info.reserved.NanoCPUs += r.NanoCPUs;
  info.reserved.MemoryBytes += r.MemoryBytes;
  for (const p of hostPortsOf(t)) info.hostPorts.add(p);
  if (isRunnable(t.DesiredState)) {
    info.active++;
    info.activeByService.set(t.ServiceID, (info.activeByService.get(t.ServiceID) ?? 0) + 1);
  }
}

/** Builds the node table from every node and every task that has a node. */
export function buildNodeInfos(nodes: readonly Node[], tasks: readonly Task[]): Map<string, NodeInfo> {
  const m = new Map<string, NodeInfo>();
  for (const n of nodes) m.set(n.ID, emptyInfo(n));
  for (const t of tasks) {
    const info = t.NodeID ? m.get(t.NodeID) : undefined;
    if (info) addTask(info, t);
  }
  return m;
}
