import { MAX_TASKS_PER_WRITE, type StoreEvent, type WatchFilter } from '../../store';
import { isTerminal, type Task } from '../../types';
import { StoreLoop, type StoreLoopDeps } from '../store-loop';
import { nodeInfosFromLoads, type NodeInfo } from './core/nodeinfo';
import { scheduleTasks } from './core/schedule';

export type SchedulerDeps = StoreLoopDeps;

/**
 * Pending tasks of one service placed per store write at most: a service with a huge backlog is
 * placed over several writes, and the loop yields to the API in between.
 */
export const MAX_PLACEMENTS_PER_PASS = MAX_TASKS_PER_WRITE;

/** Pending tasks of one service one flush plans at most (20 writes) before the next flush rereads the node table. */
export const PLACEMENTS_PER_FLUSH = 20 * MAX_PLACEMENTS_PER_PASS;

/**
 * A plan's task writes, in writes of at most MAX_PLACEMENTS_PER_PASS, grouped by node: the tasks placed on
 * one node are next to each other (a node's share is split only at a write's end), and those the plan left
 * without a node (an explanation, a shutdown) come last. Stable: a node's tasks keep the plan's order.
 */
export function placementWrites(updates: readonly Task[]): Task[][] {
  const byNode = new Map<string, Task[]>();
  const unplaced: Task[] = [];
  for (const u of updates) {
    if (u.Status.State !== 'assigned' || !u.NodeID) {
      unplaced.push(u);
      continue;
    }
    const l = byNode.get(u.NodeID);
    if (l) l.push(u);
    else byNode.set(u.NodeID, [u]);
  }
  const ordered = [...byNode.values()].flat().concat(unplaced);
  const out: Task[][] = [];
  for (let i = 0; i < ordered.length; i += MAX_PLACEMENTS_PER_PASS) out.push(ordered.slice(i, i + MAX_PLACEMENTS_PER_PASS));
  return out;
}

/**
 * The scheduler loop: assigns PENDING tasks to nodes, one plan per service and pass, written node by node. Services
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
    const infos: Map<string, NodeInfo> = store.read((tx) => nodeInfosFromLoads(tx.find('node'), (id) => store.nodeLoad(id)));
    let more = false;
    const writes: Promise<void>[] = [];
    try {
      for (const sid of [...services].sort()) {
        // One plan for up to PLACEMENTS_PER_FLUSH of the service's pending tasks, then written node by node
        // (placementWrites): a node's share of the plan reaches it as one assignment message, and its agent
        // reports those tasks together. Planned 500 at a time, 1,000 nodes got one task per node per write:
        // 100,000 tasks were 100,000 assignment messages and as many status reports (issue 15).
        let planned = new Map<string, Task>();
        let rest: Task[][] = [];
        const first = await store.write((tx) => {
          const pending = tx.shared.pendingTasks(sid);
          const batch = pending.length > PLACEMENTS_PER_FLUSH ? pending.slice(0, PLACEMENTS_PER_FLUSH) : pending;
          const r = scheduleTasks(batch, infos, clock.now());
          planned = new Map(batch.map((t) => [t.ID, t]));
          const [head, ...tail] = placementWrites(r.updates);
          rest = tail;
          for (const u of head ?? []) tx.update('task', u);
          return { unplaced: r.unplaced, left: pending.length - batch.length };
        });
        writes.push(first.applied);
        const result = first.result;
        for (const chunk of rest) {
          // Each write goes out as soon as the one before is in the log (MemoryStore.write). A task written
          // by anyone since the plan (scaled down, updated, removed: a new object) is left as it is: if it is
          // still pending, that write's event has asked for the next flush already (onEvent).
          const { applied } = await store.write((tx) => {
            for (const u of chunk) if (tx.shared.get('task', u.ID) === planned.get(u.ID)) tx.update('task', u);
          });
          writes.push(applied);
        }
        if (result.unplaced > 0) this.waiting.add(sid);
        else this.waiting.delete(sid);
        // More pending than one plan holds: the next flush goes on with them, with the node table as
        // committed by then; unless this plan found no room (then the rest waits for a node or task change).
        if (result.left > 0 && result.unplaced === 0) {
          this.dirty.add(sid);
          more = true;
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
