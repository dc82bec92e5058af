import { isRunnable, isTerminal, type Node, type Task } from '../../types';
import type { ReadTx } from '../../store';
import type { StoreEvent, WatchFilter } from '../../store';
import { StoreLoop } from '../store-loop';
import type { LoopDeps } from './loop';
import { reapService } from './core/reaper';
import { DEFAULT_TASK_HISTORY } from './core/common';

/** Deletes one write makes at most (~60 bytes each in the Raft entry, whose limit is 1.5 MiB). */
export const MAX_DELETES_PER_WRITE = 5000;

/**
 * The task reaper: deletes tasks that are to be removed once they stopped (or never reached a live
 * node), and trims each slot's history to the cluster's TaskHistoryRetentionLimit (default 5).
 */
export class TaskReaper extends StoreLoop<LoopDeps> {
  protected readonly filter: WatchFilter = { kinds: ['task', 'node', 'cluster'] };
  private dirty = new Set<string>();
  /**
   * For services marked by task events only: the replicated slots (Slot > 0) those tasks are in. Such
   * a service's pass reads those slots through the store's slot index, not its 100,000 tasks: a big
   * create or removal marks it once per write of 500 tasks, a node going Down once per task there. A
   * service marked otherwise (a global or job task, a rescan) has no entry here and is read whole.
   */
  private dirtySlots = new Map<string, Set<number>>();

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
      // its tasks' slots (100 nodes Down at 100,000 tasks marked the service whole 100 times)
      const tasks = this.deps.store.read((tx) => tx.tasksByNode(n.ID));
      for (const t of tasks) this.markTask(t);
      return tasks.length > 0;
    }
    if (e.action === 'delete') return false;
    const t = e.object as Task;
    // Only a new task (a slot's history grows), a task no longer wanted or a stopped one can make
    // something reapable; a live task's progress (PREPARING → RUNNING, hundreds of updates when a
    // service starts) cannot, and re-reading the whole service for each would be wasted work.
    if (e.action === 'update' && isRunnable(t.DesiredState) && !isTerminal(t.Status.State)) return false;
    this.markTask(t);
    return true;
  }

  /** A replicated task marks its slot (unless its service is marked whole already), any other its service. */
  private markTask(t: Task): void {
    if (t.Slot !== undefined && t.Slot > 0 && (!this.dirty.has(t.ServiceID) || this.dirtySlots.has(t.ServiceID))) {
      this.dirty.add(t.ServiceID);
      let slots = this.dirtySlots.get(t.ServiceID);
      if (!slots) this.dirtySlots.set(t.ServiceID, (slots = new Set()));
      slots.add(t.Slot);
    } else {
      this.markService(t.ServiceID);
    }
  }

  private markService(serviceId: string): void {
    this.dirty.add(serviceId);
    this.dirtySlots.delete(serviceId);
  }

  /** The tasks a pass over `serviceId` looks at: the marked slots' (each slot whole), else the service's. */
  private tasksToLook(tx: ReadTx, serviceId: string, slots: Set<number> | undefined): Task[] {
    if (!slots) return tx.tasksByService(serviceId);
    const out: Task[] = [];
    for (const slot of slots) out.push(...tx.tasksBySlot(serviceId, slot));
    return out;
  }

  protected async flush(): Promise<undefined> {
    const { store } = this.deps;
    const slotsOf = this.dirtySlots;
    this.dirtySlots = new Map();
    const full = this.full;
    const ids = this.take(this.dirty, () => [...new Set(store.read((tx) => tx.find('task').map((t) => t.ServiceID)))]);
    for (const sid of ids) {
      const slots = full ? undefined : slotsOf.get(sid);
      const dead = await store.update((tx) => {
        const cluster = tx.shared.find('cluster')[0];
        const retention = cluster?.Spec?.Orchestration?.TaskHistoryRetentionLimit ?? DEFAULT_TASK_HISTORY;
        const nodes = new Map(tx.shared.find('node').map((n) => [n.ID, n]));
        const ids = reapService({ tasks: this.tasksToLook(tx.shared, sid, slots), nodes, retention });
        for (const id of ids.slice(0, MAX_DELETES_PER_WRITE)) tx.delete('task', id);
        return ids;
      });
      // The rest in later writes, bounded so that 100,000 deletes are not one Raft entry. A task
      // once reapable stays so (removed and stopped, or stopped and no longer wanted); one whose
      // node came back meanwhile is removed from it anyway, as its desired state says.
      for (let at = MAX_DELETES_PER_WRITE; at < dead.length; at += MAX_DELETES_PER_WRITE) {
        const chunk = dead.slice(at, at + MAX_DELETES_PER_WRITE);
        await store.update((tx) => {
          for (const id of chunk) tx.delete('task', id);
        });
      }
    }
    return undefined;
  }
}
