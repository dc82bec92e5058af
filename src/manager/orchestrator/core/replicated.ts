import { isReplicated, isRunnable, newTask, replicasOf, type Node, type Service, type Task } from '../../../types';
import { isoTime } from '../../../lib/time';
import type { IdGen, Mutation } from './common';

export interface ReplicatedInput {
  service: Service;
  /** Every task of the service. */
  tasks: readonly Task[];
  nodes: ReadonlyMap<string, Node>;
  now: number;
  newId: IdGen;
  /** Creates or removes at most this many tasks (the rest is left to the next pass). */
  limit?: number;
}

/**
 * Scale a replicated service: every slot 1..n that lacks a runnable task (DesiredState ≤ running)
 * gets a new one from the current spec; surplus slots get DesiredState REMOVE. Tasks that are merely
 * out of date are left to the update supervisor, and failed tasks to the restart supervisor (a failed
 * task whose DesiredState is still RUNNING keeps its slot occupied).
 */
export function reconcileReplicated(input: ReplicatedInput): Mutation[] {
  const { service, tasks, now, newId } = input;
  const limit = input.limit ?? Infinity;
  if (!isReplicated(service)) return [];
  const want = replicasOf(service);
  const live = new Map<number, Task[]>();
  for (const t of tasks) {
    if (t.Slot === undefined || t.Slot <= 0 || !isRunnable(t.DesiredState)) continue;
    const l = live.get(t.Slot);
    if (l) l.push(t);
    else live.set(t.Slot, [t]);
  }
  const out: Mutation[] = [];
  if (live.size < want) {
    let need = Math.min(want - live.size, limit);
    for (let slot = 1; need > 0; slot++) {
      if (live.has(slot)) continue;
      out.push({ op: 'create', task: newTask({ id: newId(), service, slot, now }) });
      need--;
    }
  } else if (live.size > want) {
    for (const slot of slotsToRemove(live, Math.min(live.size - want, limit))) {
      for (const t of live.get(slot) ?? []) {
        out.push({ op: 'update', task: { ...t, DesiredState: 'remove', UpdatedAt: isoTime(now) } });
      }
    }
  }
  return out;
}

/**
 * Which slots to drop on scale-down, as swarmkit chooses: first slots with no task observed RUNNING,
 * then slots on the nodes running the most tasks of the service, then the highest slot numbers.
 */
export function slotsToRemove(live: ReadonlyMap<number, readonly Task[]>, count: number): number[] {
  const load = new Map<string, number>();
  for (const ts of live.values()) for (const t of ts) if (t.NodeID) load.set(t.NodeID, (load.get(t.NodeID) ?? 0) + 1);
  const loadOf = (ts: readonly Task[]): number => {
    let l = 0;
    for (const t of ts) if (t.NodeID) l = Math.max(l, load.get(t.NodeID) ?? 0);
    return l;
  };
  // A greedy choice, one slot at a time, over a max-heap (issue 15: 100,000 → 0 would be quadratic as
  // a scan per choice). Loads only go down as slots are chosen, so a heap entry's key is never below
  // its slot's current key: an entry on top whose key is still current is the best slot.
  const heap: SlotChoice[] = [];
  for (const [slot, ts] of live) heap.push({ slot, running: ts.some((t) => t.Status.State === 'running'), load: loadOf(ts) });
  heapify(heap);
  const out: number[] = [];
  while (out.length < count && heap.length > 0) {
    const top = heapPop(heap)!;
    const ts = live.get(top.slot) ?? [];
    const now = loadOf(ts);
    if (now !== top.load) {
      heapPush(heap, { ...top, load: now });
      continue;
    }
    out.push(top.slot);
    for (const t of ts) if (t.NodeID) load.set(t.NodeID, (load.get(t.NodeID) ?? 1) - 1);
  }
  return out;
}

interface SlotChoice {
  slot: number;
  running: boolean;
  load: number;
}

/** True when `a` is the better slot to remove: not running first, then the busiest node, then the highest slot. */
function removeBefore(a: SlotChoice, b: SlotChoice): boolean {
  if (a.running !== b.running) return !a.running;
  if (a.load !== b.load) return a.load > b.load;
  return a.slot > b.slot;
}

function siftDown(h: SlotChoice[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let best = i;
    if (l < h.length && removeBefore(h[l]!, h[best]!)) best = l;
    if (r < h.length && removeBefore(h[r]!, h[best]!)) best = r;
    if (best === i) return;
    [h[i], h[best]] = [h[best]!, h[i]!];
    i = best;
  }
}

function heapify(h: SlotChoice[]): void {
  for (let i = Math.floor(h.length / 2) - 1; i >= 0; i--) siftDown(h, i);
}

function heapPop(h: SlotChoice[]): SlotChoice | undefined {
  const top = h[0];
  const last = h.pop();
  if (h.length > 0 && last) {
    h[0] = last;
    siftDown(h, 0);
  }
  return top;
}

function heapPush(h: SlotChoice[], x: SlotChoice): void {
  h.push(x);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!removeBefore(h[i]!, h[p]!)) return;
    [h[i], h[p]] = [h[p]!, h[i]!];
    i = p;
  }
}

/** A deleted service: every task it had is to be removed (the reaper deletes them once stopped). */
export function removeAllTasks(tasks: readonly Task[], now: number): Mutation[] {
  return tasks.filter((t) => t.DesiredState !== 'remove').map((t) => ({ op: 'update', task: { ...t, DesiredState: 'remove', UpdatedAt: isoTime(now) } }));
}
