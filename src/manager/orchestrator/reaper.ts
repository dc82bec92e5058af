import { isRunnable, isTerminal, type Node, type Task } from '../../types';
import type { StoreEvent, WatchFilter } from '../../store';
import { StoreLoop } from '../store-loop';
import type { LoopDeps } from './loop';
import { reapService } from './core/reaper';
import { DEFAULT_TASK_HISTORY } from './core/common';

/**
 * The task reaper: deletes tasks that are to be removed once they stopped (or never reached a live
 * node), and trims each slot's history to the cluster's TaskHistoryRetentionLimit (default 5).
 */
export class TaskReaper extends StoreLoop<LoopDeps> {
  protected readonly filter: WatchFilter = { kinds: ['task', 'node', 'cluster'] };
  private dirty = new Set<string>();

  constructor(deps: LoopDeps) {
    super(deps);
  }

  protected onEvent(e: StoreEvent): boolean {
    if (e.kind === 'cluster') {
      this.full = true;
      return true;
    }
    if (e.kind === 'node') {
      const n = e.object as Node;
      if (e.action !== 'delete' && n.Status.State !== 'down') return false;
      const tasks = this.deps.store.read((tx) => tx.tasksByNode(n.ID));
      for (const t of tasks) this.dirty.add(t.ServiceID);
      return tasks.length > 0;
    }
    if (e.action === 'delete') return false;
    const t = e.object as Task;
    // Only a new task (a slot's history grows), a task no longer wanted or a stopped one can make
    // something reapable; a live task's progress (PREPARING → RUNNING, hundreds of updates when a
    // service starts) cannot, and re-reading the whole service for each would be wasted work.
    if (e.action === 'update' && isRunnable(t.DesiredState) && !isTerminal(t.Status.State)) return false;
    this.dirty.add(t.ServiceID);
    return true;
  }

  protected async flush(): Promise<undefined> {
    const { store } = this.deps;
    const ids = this.take(this.dirty, () => [...new Set(store.read((tx) => tx.find('task').map((t) => t.ServiceID)))]);
    for (const sid of ids) {
      await store.update((tx) => {
        const cluster = tx.find('cluster')[0];
        const retention = cluster?.Spec?.Orchestration?.TaskHistoryRetentionLimit ?? DEFAULT_TASK_HISTORY;
        const nodes = new Map(tx.shared.find('node').map((n) => [n.ID, n]));
        const tasks: Task[] = tx.shared.tasksByService(sid);
        for (const id of reapService({ tasks, nodes, retention })) tx.delete('task', id);
      });
    }
    return undefined;
  }
}
