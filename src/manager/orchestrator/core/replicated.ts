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
    const live = new LiveSlots(top);
    for (const t of tasks) if (holds(t)) live.add(t);
    const at = isoTime(now);
    for (const slot of slotsToRemove(live, Math.min(heldCount - want, limit))) {
      const h = live.at(slot);
      if (h) for (const t of holderList(h)) out.push({ op: 'update', task: { ...t, DesiredState: 'remove', UpdatedAt: at } });
    }
  }
  return out;
}

/** A slot's runnable tasks: its one task itself (nearly always), or the list of them. */
export type SlotHolders = Task | readonly Task[];

/** A service's live slots, each with its runnable tasks: what `slotsToRemove` chooses from. */
export interface SlotTasks {
  /** The highest slot number held. */
  readonly top: number;
  /** Calls `fn` for each live slot. */
  each(fn: (slot: number, holders: SlotHolders) => void): void;
  /** The holders of `slot` (undefined: none). */
  at(slot: number): SlotHolders | undefined;
}

// What the choice reads of a slot's holders, as plain functions (no closure per slot: a pass reads 100,000).
const isList = (h: SlotHolders): h is readonly Task[] => Array.isArray(h);
const holderList = (h: SlotHolders): readonly Task[] => (isList(h) ? h : [h]);

function addLoads(load: Map<string, number>, h: SlotHolders, delta: number): void {
  if (!isList(h)) {
    if (h.NodeID) load.set(h.NodeID, (load.get(h.NodeID) ?? 0) + delta);
    return;
  }
  for (const t of h) if (t.NodeID) load.set(t.NodeID, (load.get(t.NodeID) ?? 0) + delta);
}

/** The busiest of the slot's nodes. */
function loadOf(load: ReadonlyMap<string, number>, h: SlotHolders): number {
  if (!isList(h)) return h.NodeID ? (load.get(h.NodeID) ?? 0) : 0;
  let l = 0;
  for (const t of h) if (t.NodeID) l = Math.max(l, load.get(t.NodeID) ?? 0);
  return l;
}

function anyRunning(h: SlotHolders): boolean {
  return isList(h) ? h.some((t) => t.Status.State === 'running') : h.Status.State === 'running';
}

/** The one node the slot's tasks are on ('' for none), undefined when they are on several. */
function nodeOf(h: SlotHolders): string | undefined {
  if (!isList(h)) return h.NodeID || '';
  let node: string | undefined = '';
  for (const t of h) if (t.NodeID && t.NodeID !== node) node = node === '' ? t.NodeID : undefined;
  return node;
}

/**
 * SlotTasks in an array indexed by slot number (slots are filled from 1 up), a slot's one task as
 * itself: a scale-down pass reads every task of the service to choose up to 5,000, and a map of lists,
 * with an object per slot for the choice, was a fifth of what a new leader promoted during 100,000 → 0
 * (issue 15).
 */
class LiveSlots implements SlotTasks {
  private readonly bySlot: (Task | Task[] | undefined)[];

  constructor(readonly top: number) {
    this.bySlot = new Array<Task | Task[] | undefined>(top + 1);
  }

  add(t: Task): void {
    const slot = t.Slot!;
    const h = this.bySlot[slot];
    if (h === undefined) this.bySlot[slot] = t;
    else if (Array.isArray(h)) h.push(t);
    else this.bySlot[slot] = [h, t];
  }

  each(fn: (slot: number, holders: SlotHolders) => void): void {
    for (let slot = 1; slot <= this.top; slot++) {
      const h = this.bySlot[slot];
      if (h !== undefined) fn(slot, h);
    }
  }

  at(slot: number): SlotHolders | undefined {
    return this.bySlot[slot];
  }
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
export function slotsToRemove(live: SlotTasks, count: number): number[] {
  const load = new Map<string, number>();
  live.each((_, h) => addLoads(load, h, 1));
  // per slot, a byte: whether a task of it was observed running; each node's list holds slot numbers
  const running = new Uint8Array(live.top + 1);
  const byNode = new Map<string, number[]>();
  const multi = new MinHeap<SlotChoice>(removeBefore);
  live.each((slot, h) => {
    if (anyRunning(h)) running[slot] = 1;
    const node = nodeOf(h);
    if (node === undefined) {
      multi.push({ slot, running: running[slot] === 1, load: loadOf(load, h) });
      return;
    }
    const list = byNode.get(node);
    if (list) list.push(slot);
    else byNode.set(node, [slot]);
  });
  // each node's slots in the order the choice takes slots of equal load (removeBefore): not running
  // first, then the highest; `next` is its head
  const next = new Map<string, number>();
  const version = new Map<string, number>();
  const nodeHeap = new MinHeap<NodeEntry>((a, b) => removeBefore(a.choice, b.choice));
  const offer = (node: string) => {
    const list = byNode.get(node);
    const i = next.get(node) ?? 0;
    const v = (version.get(node) ?? 0) + 1;
    version.set(node, v);
    if (!list || i >= list.length) return;
    const slot = list[i]!;
    nodeHeap.push({ node, version: v, choice: { slot, running: running[slot] === 1, load: node ? (load.get(node) ?? 0) : 0 } });
  };
  for (const [node, list] of byNode) {
    list.sort((a, b) => running[a]! - running[b]! || b - a);
    offer(node);
  }
  const out: number[] = [];
  const taken = (slot: number) => {
    out.push(slot);
    const h = live.at(slot);
    if (h === undefined) return;
    addLoads(load, h, -1);
    const touched = new Set<string>();
    for (const t of holderList(h)) if (t.NodeID) touched.add(t.NodeID);
    for (const n of touched) if (byNode.has(n)) offer(n);
  };
  while (out.length < count) {
    while (nodeHeap.size > 0 && nodeHeap.peek()!.version !== version.get(nodeHeap.peek()!.node)) nodeHeap.pop();
    // a multi-node slot on top whose key is still current is the best of them (loads only go down)
    while (multi.size > 0) {
      const top = multi.peek()!;
      const h = live.at(top.slot);
      const now = h === undefined ? 0 : loadOf(load, h);
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
