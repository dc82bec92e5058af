import { portKey } from '../lib/ingress-ports';
import { isRunnable, isTerminal, reservationsOf, type Task } from '../types';

/** The load that the tasks on one node which have not stopped put on it: what the scheduler weighs. */
export interface NodeLoad {
  /** Tasks counted (every task on the node that has not stopped, wanted or not). */
  tasks: number;
  /** Tasks that are wanted (DesiredState ≤ running) and not stopped… */
  active: number;
  /** …and the same per service. */
  activeByService: Map<string, number>;
  /** Reservations of every counted task. */
  reserved: { NanoCPUs: number; MemoryBytes: number };
  /** Host-mode published ports the counted tasks hold ("tcp/8080"), with how many hold each. */
  hostPorts: Map<string, number>;
}

export function emptyLoad(): NodeLoad {
  return { tasks: 0, active: 0, activeByService: new Map(), reserved: { NanoCPUs: 0, MemoryBytes: 0 }, hostPorts: new Map() };
}

export function copyLoad(l: NodeLoad): NodeLoad {
  return { tasks: l.tasks, active: l.active, activeByService: new Map(l.activeByService), reserved: { ...l.reserved }, hostPorts: new Map(l.hostPorts) };
}

/** The host-mode ports a task binds on its node ("tcp/8080"); a dynamic one (0) binds no fixed port. */
export function hostPortsOf(t: Task): string[] {
  return (t.internal.ports ?? []).filter((p) => p.PublishMode === 'host' && p.PublishedPort).map((p) => portKey(p.Protocol, p.PublishedPort!));
}

/** Adds `by` to a count kept in `m`; a count that reaches 0 leaves the map. */
export function bump<K>(m: Map<K, number>, key: K, by: number): void {
  const n = (m.get(key) ?? 0) + by;
  if (n > 0) m.set(key, n);
  else m.delete(key);
}

/**
 * Counts a task in (+1) or out (-1: the version it replaces, or a delete) of its node's load. The one
 * rule of what a task weighs: the store keeps every node's load with it as tasks are applied, and the
 * scheduler adds the tasks it places with it while it plans.
 */
export function accountTask(load: NodeLoad, t: Task, by: 1 | -1): void {
  if (isTerminal(t.Status.State)) return;
  load.tasks += by;
  // (every committed task version on every manager comes through here: nothing allocated for the common task)
  if (t.Spec.Resources?.Reservations) {
    const r = reservationsOf(t.Spec);
    load.reserved.NanoCPUs += by * r.NanoCPUs;
    load.reserved.MemoryBytes += by * r.MemoryBytes;
  }
  if (t.internal.ports?.length) for (const p of hostPortsOf(t)) bump(load.hostPorts, p, by);
  if (isRunnable(t.DesiredState)) {
    load.active += by;
    bump(load.activeByService, t.ServiceID, by);
  }
}

/**
 * Every node's load, kept as the store applies tasks (MemoryStore.nodeLoad): the scheduler reads the
 * node table in a pass over the nodes instead of one over every task. It read all 100,000 tasks for
 * each batch of replacements when 100 nodes went Down (performance.md, "A node failure at 100,000 tasks").
 */
export class NodeLoads {
  private byNode = new Map<string, NodeLoad>();

  /** The node's load, the store's own (never change it); undefined when no task on it counts. */
  get(nodeId: string): Readonly<NodeLoad> | undefined {
    return this.byNode.get(nodeId);
  }

  /** How many nodes have tasks counted (a node's entry goes with its last such task). */
  get nodeCount(): number {
    return this.byNode.size;
  }

  add(t: Task, by: 1 | -1): void {
    if (!t.NodeID || isTerminal(t.Status.State)) return;
    let load = this.byNode.get(t.NodeID);
    if (!load) this.byNode.set(t.NodeID, (load = emptyLoad()));
    accountTask(load, t, by);
    if (load.tasks === 0) this.byNode.delete(t.NodeID);
  }

  clear(): void {
    this.byNode.clear();
  }
}
