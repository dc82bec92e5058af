import { MAX_TASKS_PER_WRITE, type StoreEvent, type WatchFilter } from '../../store';
import { isTerminal, type Task } from '../../types';
import { StoreLoop, type StoreLoopDeps } from '../store-loop';
import { buildNodeInfos, type NodeInfo } from './core/nodeinfo';
import { scheduleTasks } from './core/schedule';

export type SchedulerDeps = StoreLoopDeps;

/**
 * Pending tasks of one service placed per store write at most: a service with a huge backlog is
 * placed over several writes, and the loop yields to the API in between.
 */
export const MAX_PLACEMENTS_PER_PASS = MAX_TASKS_PER_WRITE;

/** Writes of one service one flush makes at most (10,000 placements) before the next flush rereads the node table. */
export const WRITES_PER_FLUSH = 20;

/**
 * The scheduler loop: assigns PENDING tasks to nodes, one store write per service and pass. Services
 * with tasks that fit nowhere are retried whenever a node changes or a task frees its node.
 */
export class Scheduler extends StoreLoop<SchedulerDeps> {
  protected readonly filter: WatchFilter = { kinds: ['task', 'node'] };
  private dirty = new Set<string>();
  /** Services that still have unplaced tasks. */
  private waiting = new Set<string>();
  /** Set when a node changed or a task freed room: the next flush retries every waiting service. */
  private retry = false;

  protected onEvent(e: StoreEvent): boolean {
    if (e.kind === 'node') {
      this.retry = true;
      return this.waiting.size > 0;
    }
    const t = e.object as Task;
    if (e.action !== 'delete' && t.Status.State === 'pending') {
      this.dirty.add(t.ServiceID);
      return true;
    }
    // a task that stops, moves or goes away may free room (resources, max replicas)
    const old = e.old as Task | undefined;
    const freed = e.action === 'delete' || (old && ((!isTerminal(old.Status.State) && isTerminal(t.Status.State)) || old.NodeID !== t.NodeID || old.DesiredState !== t.DesiredState));
    if (freed) this.retry = true;
    return !!freed && this.waiting.size > 0;
  }

  protected async flush(): Promise<undefined> {
    const { store, clock } = this.deps;
    const services = new Set(this.dirty);
    this.dirty.clear();
    if (this.retry) for (const s of this.waiting) services.add(s);
    this.retry = false;
    if (this.full) {
      this.full = false;
      for (const t of store.read((tx) => tx.find('task', (x) => x.Status.State === 'pending'))) services.add(t.ServiceID);
    }
    if (services.size === 0) return;
    const infos: Map<string, NodeInfo> = store.read((tx) => buildNodeInfos(tx.find('node'), tx.find('task', (t) => !!t.NodeID && !isTerminal(t.Status.State))));
    let more = false;
    const writes: Promise<void>[] = [];
    try {
      for (const sid of [...services].sort()) {
        // Each batch goes out as soon as the one before is in the log (MemoryStore.write): it reads
        // the tasks that one placed as placed, and `infos` holds its placements already.
        for (let n = 1; ; n++) {
          const { result, applied } = await store.write((tx) => {
            const pending = tx.shared.pendingTasks(sid);
            const batch = pending.length > MAX_PLACEMENTS_PER_PASS ? pending.slice(0, MAX_PLACEMENTS_PER_PASS) : pending;
            const r = scheduleTasks(batch, infos, clock.now());
            for (const u of r.updates) tx.update('task', u);
            return { unplaced: r.unplaced, left: pending.length - batch.length };
          });
          writes.push(applied);
          if (result.unplaced > 0) this.waiting.add(sid);
          else this.waiting.delete(sid);
          // More pending than a batch places: go on, up to WRITES_PER_FLUSH, then next flush; unless this
          // batch found no room (then the rest waits with it for a node or task change).
          if (result.left === 0 || result.unplaced > 0) break;
          if (n >= WRITES_PER_FLUSH) {
            this.dirty.add(sid);
            more = true;
            break;
          }
        }
      }
    } finally {
      // the next flush reads the node table from committed state: this flush's placements must be in it
      await Promise.allSettled(writes);
    }
    await Promise.all(writes);
    if (more) this.kick();
  }
}
