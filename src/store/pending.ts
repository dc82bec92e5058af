import { TaskIndex, eachId } from './task-index';
import type { Change, Kind, ObjectTypes } from './types';

type Task = ObjectTypes['task'];

/** The task indexes a pending write can put a task under (CommittedTasks': by service, node, slot, pending by service). */
export type TaskIndexName = 'service' | 'node' | 'slot' | 'pending';

/** The slot index's key of a replicated task. */
export const slotKey = (serviceId: string, slot: number): string => `${serviceId}/${slot}`;

interface PendingWrite {
  index: number;
  changes: Change[];
  /** Settles when the write is applied or lost. */
  applied: Promise<void>;
}

interface Latest {
  change: Change;
  index: number;
}

/**
 * Writes that are in the Raft log but not applied yet (store pipelining, MemoryStore.update): the
 * next write transaction reads them on top of the committed tables, so it can be planned and proposed
 * while the earlier ones replicate. Nothing else reads them: `view`, `read` and watches see committed
 * state only, as in swarmkit.
 *
 * Sound because Raft commits a prefix of the leader's log: a write built on a pending one sits at a
 * later index of the same log, so it can only commit if that one did. When a pending write fails
 * (lost leadership, overwritten), every later one fails with it and all of them leave here (dropFrom).
 */
export class PendingWrites {
  /** Oldest first; indexes strictly increase (the log's order). */
  private writes: PendingWrite[] = [];
  /** The latest pending change of each object, by kind and ID. */
  private latest = new Map<Kind, Map<string, Latest>>();
  /**
   * Task IDs by the index keys of their latest pending version. Only the latest counts: a reader
   * resolves every ID to its latest pending version (`peek`) and checks it, so what earlier versions
   * were under can never add a task to an answer. Kept as the latest version moves: a new pending
   * version leaves the keys it does not share with the one before (mostly none), and applying the
   * latest leaves them all.
   */
  private taskKeys: Record<TaskIndexName, TaskIndex<string>> = newTaskKeys();

  get size(): number {
    return this.writes.length;
  }

  /** The index of the newest pending write (0: none). */
  get lastIndex(): number {
    return this.writes.at(-1)?.index ?? 0;
  }

  /** Settles when the oldest pending write is applied or lost (undefined: none pending). */
  get firstApplied(): Promise<void> | undefined {
    return this.writes[0]?.applied;
  }

  /** Settles when the newest pending write is applied or lost (undefined: none pending). */
  get lastApplied(): Promise<void> | undefined {
    return this.writes.at(-1)?.applied;
  }

  /** A write put in the log at `index`. Its objects carry the version they will have once applied there. */
  push(index: number, changes: Change[], applied: Promise<void>): void {
    const last = this.writes.at(-1);
    if (last && index <= last.index) throw new Error(`pending write at ${index} after one at ${last.index}`);
    for (const c of changes) if (c.action !== 'delete') c.object.Version = { Index: index };
    const w = { index, changes, applied };
    this.writes.push(w);
    this.add(w);
  }

  /** The log applied through `index`: those writes are in the tables now. */
  appliedThrough(index: number): void {
    let n = 0;
    while (n < this.writes.length && this.writes[n]!.index <= index) n++;
    if (n === 0) return;
    const done = this.writes.splice(0, n);
    for (const w of done) {
      for (const c of w.changes) {
        const id = c.action === 'delete' ? c.id : c.object.ID;
        const byId = this.latest.get(c.kind);
        // a later pending write of the same object stays the latest, with its keys
        if (!byId || byId.get(id)?.index !== w.index) continue;
        byId.delete(id);
        if (c.kind === 'task' && c.action !== 'delete') this.moveTask(id, c.object as Task, undefined);
      }
    }
  }

  /** The write at `index` failed: it and every later one (built on it) are gone. */
  dropFrom(index: number): void {
    const keep = this.writes.filter((w) => w.index < index);
    if (keep.length === this.writes.length) return;
    this.writes = keep;
    this.latest.clear();
    this.taskKeys = newTaskKeys();
    for (const w of keep) this.add(w);
  }

  /** The object as the pending writes leave it: a change (a delete: gone), or undefined if none touches it. */
  peek(kind: Kind, id: string): Change | undefined {
    return this.latest.get(kind)?.get(id)?.change;
  }

  /** The latest pending change of every object of `kind`, by ID. */
  ofKind(kind: Kind): ReadonlyMap<string, Latest> | undefined {
    return this.latest.get(kind);
  }

  /** Task IDs whose latest pending version is under `key` of an index (check each: a later write in the same transaction may move it). */
  taskIds(index: TaskIndexName, key: string): Iterable<string> {
    return eachId(this.taskKeys[index].get(key));
  }

  private add(w: PendingWrite): void {
    for (const c of w.changes) {
      let byId = this.latest.get(c.kind);
      if (!byId) this.latest.set(c.kind, (byId = new Map()));
      const id = c.action === 'delete' ? c.id : c.object.ID;
      const before = byId.get(id)?.change;
      byId.set(id, { change: c, index: w.index });
      if (c.kind !== 'task') continue;
      this.moveTask(id, before?.action === 'delete' ? undefined : (before?.object as Task | undefined), c.action === 'delete' ? undefined : (c.object as Task));
    }
  }

  /** The latest pending version of task `id` went from `from` to `to` (undefined: none, or deleted). */
  private moveTask(id: string, from: Task | undefined, to: Task | undefined): void {
    for (const name of TASK_INDEXES) this.taskKeys[name].move(id, from && keyOf(name, from), to && keyOf(name, to));
  }
}

const TASK_INDEXES: readonly TaskIndexName[] = ['service', 'node', 'slot', 'pending'];

function newTaskKeys(): Record<TaskIndexName, TaskIndex<string>> {
  return { service: new TaskIndex(), node: new TaskIndex(), slot: new TaskIndex(), pending: new TaskIndex() };
}

/** The key task `t` is under in index `name`, if any (CommittedTasks' indexes). */
function keyOf(name: TaskIndexName, t: Task): string | undefined {
  switch (name) {
    case 'service':
      return t.ServiceID;
    case 'node':
      return t.NodeID || undefined;
    case 'slot':
      return t.Slot ? slotKey(t.ServiceID, t.Slot) : undefined;
    case 'pending':
      return t.Status.State === 'pending' ? t.ServiceID : undefined;
  }
}
