import { isReplicated, isRunnable, newTask, replicasOf, type Node, type Service, type Task } from '../../../types';
import { isoTime } from '../../../lib/time';
import { MinHeap } from '../../../lib/min-heap';
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
  const holds = (t: Task) => t.Slot !== undefined && t.Slot > 0 && isRunnable(t.DesiredState);
  // The slots held, a byte each: each pass of a 100,000-replica create reads every task made so far,
  // and a list of tasks per slot (then a set of slots) was garbage the leader's old generation kept
  // until its next full collection (issue 15). Slots are filled from 1 up, so the highest one held is
  // bounded by the tasks there have been.
  let top = 0;
  for (const t of tasks) if (holds(t) && t.Slot! > top) top = t.Slot!;
  const held = new Uint8Array(top + 1);
  let heldCount = 0;
  for (const t of tasks) {
    if (!holds(t) || held[t.Slot!] === 1) continue;
    held[t.Slot!] = 1;
    heldCount++;
  }
  const out: Mutation[] = [];
  if (heldCount < want) {
    let need = Math.min(want - heldCount, limit);
    for (let slot = 1; need > 0; slot++) {
      if (slot <= top && held[slot] === 1) continue;
      out.push({ op: 'create', task: newTask({ id: newId(), service, slot, now }) });
      need--;
    }
  } else if (heldCount > want) {
    const live = new Map<number, Task[]>();
    for (const t of tasks) {
      if (!holds(t)) continue;
      const l = live.get(t.Slot!);
      if (l) l.push(t);
      else live.set(t.Slot!, [t]);
    }
    for (const slot of slotsToRemove(live, Math.min(heldCount - want, limit))) {
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
 *
 * A greedy choice, one slot at a time. Choosing a slot lowers its nodes' loads, which changes the key
 * of every other slot there; one heap entry per slot (the first version) then refreshed a node's whole
 * share of the heap after each choice: 20,000 → 0 on 20 nodes took the leader 16 s of pure CPU. So a
 * slot whose tasks are on one node (or none) waits in its node's list, ordered as the choice orders
 * slots of equal load, and the heap holds one entry per node, its list's head at the node's current
 * load (a changed node pushes a new entry; the old one is skipped by its version). The rare slot with
 * tasks on several nodes (a start-first update under way) keeps an entry of its own, refreshed lazily.
 */
export function slotsToRemove(live: ReadonlyMap<number, readonly Task[]>, count: number): number[] {
  const load = new Map<string, number>();
  for (const ts of live.values()) for (const t of ts) if (t.NodeID) load.set(t.NodeID, (load.get(t.NodeID) ?? 0) + 1);
  const loadOf = (ts: readonly Task[]): number => {
    let l = 0;
    for (const t of ts) if (t.NodeID) l = Math.max(l, load.get(t.NodeID) ?? 0);
    return l;
  };
  const byNode = new Map<string, SlotChoice[]>();
  const multi = new MinHeap<SlotChoice>(removeBefore);
  for (const [slot, ts] of live) {
    const running = ts.some((t) => t.Status.State === 'running');
    let node: string | undefined = '';
    for (const t of ts) if (t.NodeID && t.NodeID !== node) node = node === '' ? t.NodeID : undefined;
    if (node === undefined) {
      multi.push({ slot, running, load: loadOf(ts) });
      continue;
    }
    const list = byNode.get(node);
    const c = { slot, running, load: 0 };
    if (list) list.push(c);
    else byNode.set(node, [c]);
  }
  // each node's slots in the order the choice takes slots of equal load; `next` is its head
  const next = new Map<string, number>();
  const version = new Map<string, number>();
  const nodeHeap = new MinHeap<NodeEntry>((a, b) => removeBefore(a.choice, b.choice));
  const offer = (node: string) => {
    const list = byNode.get(node);
    const i = next.get(node) ?? 0;
    const v = (version.get(node) ?? 0) + 1;
    version.set(node, v);
    if (!list || i >= list.length) return;
    nodeHeap.push({ node, version: v, choice: { ...list[i]!, load: node ? (load.get(node) ?? 0) : 0 } });
  };
  for (const [node, list] of byNode) {
    list.sort((a, b) => (removeBefore(a, b) ? -1 : 1));
    offer(node);
  }
  const out: number[] = [];
  const taken = (slot: number) => {
    out.push(slot);
    const touched = new Set<string>();
    for (const t of live.get(slot) ?? []) {
      if (!t.NodeID) continue;
      load.set(t.NodeID, (load.get(t.NodeID) ?? 1) - 1);
      touched.add(t.NodeID);
    }
    for (const n of touched) if (byNode.has(n)) offer(n);
  };
  while (out.length < count) {
    while (nodeHeap.size > 0 && nodeHeap.peek()!.version !== version.get(nodeHeap.peek()!.node)) nodeHeap.pop();
    // a multi-node slot on top whose key is still current is the best of them (loads only go down)
    while (multi.size > 0) {
      const top = multi.peek()!;
      const now = loadOf(live.get(top.slot) ?? []);
      if (now === top.load) break;
      multi.pop();
      multi.push({ ...top, load: now });
    }
    const a = nodeHeap.peek();
    const b = multi.peek();
    if (!a && !b) break;
    if (a && (!b || removeBefore(a.choice, b))) {
      nodeHeap.pop();
      next.set(a.node, (next.get(a.node) ?? 0) + 1);
      taken(a.choice.slot);
      // a node none of whose tasks were in the slot (an empty NodeID) is offered again here
      if (version.get(a.node) === a.version) offer(a.node);
    } else {
      multi.pop();
      taken(b!.slot);
    }
  }
  return out;
}

interface SlotChoice {
  slot: number;
  running: boolean;
  load: number;
}

interface NodeEntry {
  node: string;
  version: number;
  choice: SlotChoice;
}

/** True when `a` is the better slot to remove: not running first, then the busiest node, then the highest slot. */
function removeBefore(a: SlotChoice, b: SlotChoice): boolean {
  if (a.running !== b.running) return !a.running;
  if (a.load !== b.load) return a.load > b.load;
  return a.slot > b.slot;
}

/** A deleted service: every task it had is to be removed (the reaper deletes them once stopped). */
export function removeAllTasks(tasks: readonly Task[], now: number): Mutation[] {
  return tasks.filter((t) => t.DesiredState !== 'remove').map((t) => ({ op: 'update', task: { ...t, DesiredState: 'remove', UpdatedAt: isoTime(now) } }));
}
