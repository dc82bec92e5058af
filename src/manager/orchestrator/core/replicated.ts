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
  const remaining = new Map(live);
  const out: number[] = [];
  while (out.length < count && remaining.size > 0) {
    let best: { slot: number; running: boolean; load: number } | null = null;
    for (const [slot, ts] of remaining) {
      const running = ts.some((t) => t.Status.State === 'running');
      const l = Math.max(0, ...ts.map((t) => (t.NodeID ? (load.get(t.NodeID) ?? 0) : 0)));
      const better =
        !best ||
        (best.running && !running) ||
        (best.running === running && (l > best.load || (l === best.load && slot > best.slot)));
      if (better) best = { slot, running, load: l };
    }
    if (!best) break;
    out.push(best.slot);
    for (const t of remaining.get(best.slot) ?? []) if (t.NodeID) load.set(t.NodeID, (load.get(t.NodeID) ?? 1) - 1);
    remaining.delete(best.slot);
  }
  return out;
}

/** A deleted service: every task it had is to be removed (the reaper deletes them once stopped). */
export function removeAllTasks(tasks: readonly Task[], now: number): Mutation[] {
  return tasks.filter((t) => t.DesiredState !== 'remove').map((t) => ({ op: 'update', task: { ...t, DesiredState: 'remove', UpdatedAt: isoTime(now) } }));
}
