import type { Task } from '../types';

/** A service's tasks on one node that the cluster still wants (desired running or complete). */
export interface TaskCounts {
  /** How many such tasks there are (the entry goes when none are left). */
  wanted: number;
  running: number;
  completed: number;
  desiredRunning: number;
}

const EMPTY: ReadonlyMap<string, TaskCounts> = new Map();

/**
 * What `docker service ls` counts of each service's tasks, by node ID ('' for none), kept as the
 * store applies tasks (MemoryStore.taskCountsByNode).
 */
export class ServiceTaskCounts {
  private byService = new Map<string, Map<string, TaskCounts>>();

  byNode(serviceId: string): ReadonlyMap<string, Readonly<TaskCounts>> {
    return this.byService.get(serviceId) ?? EMPTY;
  }

  /** How many services have tasks counted (a service's entry goes with its last such task). */
  get serviceCount(): number {
    return this.byService.size;
  }

  /** Counts a task in (+1, as it is applied) or out (-1, the version it replaces or a delete). */
  add(t: Task, by: 1 | -1): void {
    // as Docker counts: only tasks the cluster still wants (desired running, or complete for jobs)
    if (t.DesiredState !== 'running' && t.DesiredState !== 'complete') return;
    let byNode = this.byService.get(t.ServiceID);
    if (!byNode) this.byService.set(t.ServiceID, (byNode = new Map()));
    const key = t.NodeID ?? '';
    const c = byNode.get(key) ?? { running: 0, completed: 0, desiredRunning: 0, wanted: 0 };
    c.wanted += by;
    if (t.Status.State === 'running') c.running += by;
    if (t.Status.State === 'complete') c.completed += by;
    if (t.DesiredState === 'running') c.desiredRunning += by;
    if (c.wanted > 0) byNode.set(key, c);
    else {
      byNode.delete(key);
      if (byNode.size === 0) this.byService.delete(t.ServiceID);
    }
  }

  clear(): void {
    this.byService.clear();
  }
}
