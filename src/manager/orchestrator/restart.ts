import { isRunnable, isTerminal, type Node, type Task } from '../../types';
import type { StoreEvent, WatchFilter } from '../../store';
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
  private dirty = new Set<string>();
  /** Services with delayed replacements waiting; re-examined on each wake-up. */
  private delayed = new Set<string>();
  private history = new Map<string, SlotRestarts>();

  constructor(deps: LoopDeps) {
    super(deps);
  }

  protected override onWake(): void {
    for (const s of this.delayed) this.dirty.add(s);
  }

  protected onEvent(e: StoreEvent): boolean {
    if (e.kind === 'node') {
      const n = e.object as Node;
      const old = e.old as Node | undefined;
      const relevant = e.action === 'delete' || n.Status.State === 'down' || n.Spec.Availability === 'drain';
      if (!relevant) return false;
      if (e.action === 'update' && old && old.Status.State === n.Status.State && old.Spec.Availability === n.Spec.Availability) return false;
      const tasks = this.deps.store.read((tx) => tx.tasksByNode(n.ID));
      for (const t of tasks) this.dirty.add(t.ServiceID);
      return tasks.length > 0;
    }
    if (e.action === 'delete') return false;
    const t = e.object as Task;
    // Only a task still wanted can need a restart (restartReason): the 100,000 tasks of a scale-down
    // reaching SHUTDOWN each made a pass over all the service's tasks (11 % of the leader's time).
    if ((isTerminal(t.Status.State) && isRunnable(t.DesiredState)) || (t.DesiredState === 'ready' && t.internal.delayedStart) || this.delayed.has(t.ServiceID)) {
      this.dirty.add(t.ServiceID);
      return true;
    }
    return false;
  }

  protected async flush(): Promise<number | undefined> {
    const { store, clock, rng } = this.deps;
    const ids = this.take(this.dirty, () => store.read((tx) => tx.find('service').map((s) => s.ID)));
    let more = false;
    for (const sid of ids) {
      const records = await store.update((tx) => {
        const service = tx.get('service', sid);
        if (!service) return [];
        const now = clock.now();
        const nodes = new Map(tx.shared.find('node').map((n) => [n.ID, n]));
        const tasks = tx.shared.tasksByService(sid);
        const plan = planRestarts({ service, tasks, nodes, history: this.history, now, newId: () => newId(rng), limit: MAX_TASKS_PER_WRITE });
        applyMutations(tx, plan.mutations);
        if (plan.more) {
          // the rest in the next pass, after the API and the other loops had their turn
          this.dirty.add(sid);
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
    // delayed starts: examine every service that has any (cheap: usually few)
    const waiting = store.read((tx) => tx.find('task', (t) => t.DesiredState === 'ready' && !!t.internal.delayedStart));
    const services = new Set(waiting.map((t) => t.ServiceID));
    let wakeAt: number | undefined;
    for (const sid of services) {
      const w = await store.update((tx) => {
        const tasks = tx.shared.tasksByService(sid);
        const byId = new Map(tasks.map((t) => [t.ID, t]));
        for (const t of tasks) {
          const wf = t.internal.delayedStart?.waitFor;
          if (wf && !byId.has(wf)) {
            const o = tx.shared.get('task', wf);
            if (o) byId.set(wf, o);
          }
        }
        const nodes = new Map(tx.shared.find('node').map((n) => [n.ID, n]));
        const r = promoteDelayed(tasks, byId, nodes, clock.now());
        applyMutations(tx, r.mutations);
        return r.wakeAt;
      });
      if (w !== undefined) wakeAt = wakeAt === undefined ? w : Math.min(wakeAt, w);
    }
    this.delayed = services;
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
