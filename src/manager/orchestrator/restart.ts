import { isRunnable, isTerminal, slotKeyOf, type Node, type Task } from '../../types';
import type { ReadTx, StoreEvent, WatchFilter } from '../../store';
import { newId } from '../../lib/ids';
import { StoreLoop } from '../store-loop';
import { applyMutations, type LoopDeps } from './loop';
import { MAX_TASKS_PER_WRITE } from '../../store';
import { planRestarts, promoteDelayed, type SlotRestarts } from './core/restart';

/**
 * The restart supervisor: replaces tasks that stopped while wanted, or lost their node (gone, Down,
 * drained), following each task's RestartPolicy; starts delayed replacements when their delay is up.
 * Restart history (MaxAttempts/Window) lives in memory, per slot, as in swarmkit.
 */
export class RestartSupervisor extends StoreLoop<LoopDeps> {
  protected readonly filter: WatchFilter = { kinds: ['task', 'node'] };
  /** Services to examine whole (a rescan). */
  private dirty = new Set<string>();
  /**
   * Tasks to examine, by service: the ones an event named (a task that stopped while wanted, the tasks
   * of a node gone Down, drained or removed). A pass over these and their slots instead of over every
   * task of the service: 100 nodes Down at 100,000 tasks were a pass over all 100,000 for every 500
   * replacements (performance.md, "A node failure at 100,000 tasks").
   */
  private named = new Map<string, Set<string>>();
  /**
   * Delayed replacements (DesiredState READY with a `delayedStart`) by service, kept from events: each
   * flush looks at these to start the ones whose time has come, not at every task of their service.
   */
  private delayed = new Map<string, Set<string>>();
  private history = new Map<string, SlotRestarts>();

  constructor(deps: LoopDeps) {
    super(deps);
  }

  protected override onWake(): void {
    // a delayed replacement that stopped during its delay is replaced once the delay is over (deferredRestart)
    for (const [sid, ids] of this.delayed) for (const id of ids) this.name({ ServiceID: sid, ID: id });
  }

  private name(t: Pick<Task, 'ServiceID' | 'ID'>): void {
    const ids = this.named.get(t.ServiceID);
    if (ids) ids.add(t.ID);
    else this.named.set(t.ServiceID, new Set([t.ID]));
  }

  protected onEvent(e: StoreEvent): boolean {
    if (e.kind === 'node') {
      const n = e.object as Node;
      const old = e.old as Node | undefined;
      const relevant = e.action === 'delete' || n.Status.State === 'down' || n.Spec.Availability === 'drain';
      if (!relevant) return false;
      if (e.action === 'update' && old && old.Status.State === n.Status.State && old.Spec.Availability === n.Spec.Availability) return false;
      const tasks = this.deps.store.read((tx) => tx.tasksByNode(n.ID));
      for (const t of tasks) this.name(t);
      return tasks.length > 0;
    }
    const t = e.object as Task;
    if (e.action !== 'delete' && t.DesiredState === 'ready' && t.internal.delayedStart) this.keepDelayed(t.ServiceID, t.ID, true);
    else if (this.delayed.get(t.ServiceID)?.has(t.ID)) this.keepDelayed(t.ServiceID, t.ID, false);
    if (e.action === 'delete') return false;
    // Only a task still wanted can need a restart (restartReason): the 100,000 tasks of a scale-down
    // reaching SHUTDOWN each made a pass over all the service's tasks (11 % of the leader's time).
    if (isTerminal(t.Status.State) && isRunnable(t.DesiredState)) {
      this.name(t);
      return true;
    }
    // A task placed on a node that is already Down, drained or gone: the scheduler planned before the
    // node's write and wrote after it, so the node's event did not see the task (as swarmkit's
    // handleTaskChange checks a task's node on each of its changes).
    const old = e.old as Task | undefined;
    if (isRunnable(t.DesiredState) && t.NodeID && t.NodeID !== old?.NodeID && this.nodeLost(t.NodeID)) {
      this.name(t);
      return true;
    }
    // any change in a service with delayed replacements may let one start (the task it waits for stopped)
    return this.delayed.has(t.ServiceID);
  }

  private keepDelayed(sid: string, id: string, delayed: boolean): void {
    const ids = this.delayed.get(sid);
    if (delayed) {
      if (ids) ids.add(id);
      else this.delayed.set(sid, new Set([id]));
    } else if (ids) {
      ids.delete(id);
      if (ids.size === 0) this.delayed.delete(sid);
    }
  }

  private nodeLost(nodeId: string): boolean {
    const n = this.deps.store.read((tx) => tx.get('node', nodeId));
    return !n || n.Status.State === 'down' || n.Spec.Availability === 'drain';
  }

  protected async flush(): Promise<number | undefined> {
    const { store, clock, rng } = this.deps;
    const rescan = this.full;
    const whole = new Set(this.take(this.dirty, () => store.read((tx) => tx.find('service').map((s) => s.ID))));
    const named = this.named;
    this.named = new Map();
    if (rescan) {
      this.delayed.clear();
      for (const t of store.read((tx) => tx.find('task', (x) => x.DesiredState === 'ready' && !!x.internal.delayedStart))) this.keepDelayed(t.ServiceID, t.ID, true);
    }
    let more = false;
    for (const sid of new Set([...whole, ...named.keys()])) {
      const ids = whole.has(sid) ? undefined : named.get(sid);
      const records = await store.update((tx) => {
        const service = tx.get('service', sid);
        if (!service) return [];
        const now = clock.now();
        const nodes = new Map(tx.shared.find('node').map((n) => [n.ID, n]));
        const tasks = ids ? [...ids].flatMap((id) => tx.shared.get('task', id) ?? []).filter((t) => t.ServiceID === sid) : tx.shared.tasksByService(sid);
        // a candidate's slot from the index, even in a pass over every task: no grouping of 100,000 tasks
        // by slot for the few that need a look (a new leader's first pass)
        const plan = planRestarts({ service, tasks, slotTasks: (t) => tasksOfSlot(tx.shared, sid, t), nodes, history: this.history, now, newId: () => newId(rng), limit: MAX_TASKS_PER_WRITE });
        applyMutations(tx, plan.mutations);
        if (plan.more) {
          // the rest in the next pass, after the API and the other loops had their turn (the tasks
          // handled now are no longer wanted, so they are not examined again)
          if (ids) this.named.set(sid, new Set([...ids, ...(this.named.get(sid) ?? [])]));
          else this.dirty.add(sid);
          more = true;
        }
        return plan.restarts;
      });
      for (const r of records) {
        const h = this.history.get(r.key);
        if (h && h.specVersion === r.specVersion) h.times.push(r.at);
        else this.history.set(r.key, { specVersion: r.specVersion, times: [r.at] });
      }
    }
    // delayed starts: the delayed replacements of every service that has any
    let wakeAt: number | undefined;
    for (const ids of [...this.delayed.values()]) {
      const w = await store.update((tx) => {
        const waiting = [...ids].flatMap((id) => tx.shared.get('task', id) ?? []).filter((t) => t.DesiredState === 'ready' && !!t.internal.delayedStart);
        const byId = { get: (id: string) => tx.shared.get('task', id) };
        const nodes = new Map(tx.shared.find('node').map((n) => [n.ID, n]));
        const r = promoteDelayed(waiting, byId, nodes, clock.now());
        applyMutations(tx, r.mutations);
        // (the events of the ones started take them out of `delayed`)
        return r.wakeAt;
      });
      if (w !== undefined) wakeAt = wakeAt === undefined ? w : Math.min(wakeAt, w);
    }
    this.pruneHistory(clock.now());
    if (more) this.kick();
    return wakeAt;
  }

  /** Drops restart records of services that no longer exist. */
  private pruneHistory(_now: number): void {
    if (this.history.size < 1024) return;
    const live = new Set(this.deps.store.read((tx) => tx.find('service').map((s) => s.ID)));
    for (const k of this.history.keys()) if (!live.has(k.split('/')[0]!)) this.history.delete(k);
  }
}

/** Every task of `t`'s slot (`slotKeyOf`: its slot, or its node for a per-node task), from the store's indexes. */
function tasksOfSlot(tx: ReadTx, sid: string, t: Task): Task[] {
  if (t.Slot !== undefined && t.Slot > 0) return tx.tasksBySlot(sid, t.Slot);
  const key = slotKeyOf(t);
  const same = (o: Task) => o.ServiceID === sid && slotKeyOf(o) === key;
  // a per-node task's slot is its node; anything else (no node, slot 0) is looked for over the service
  return t.NodeID && key === slotKeyOf({ NodeID: t.NodeID }) ? tx.tasksByNode(t.NodeID, same) : tx.tasksByService(sid, same);
}
