import type { Task, TaskState } from '../types';
import { stableEqual } from '../types/dirty';
import { ServiceTaskCounts, type TaskCounts } from './task-counts';
import { NodeLoads, bump, type NodeLoad } from './node-loads';
import { TaskIndex, type TaskIds } from './task-index';

/** The ID string the store already holds for a service or node (its object's), if it has that object. */
export type HeldId = (kind: 'service' | 'node', id: string) => string | undefined;

/** How many keys each of the task indexes holds: a key whose tasks are all gone is gone (tests, bench/store-memory). */
export interface TaskIndexSizes {
  services: number;
  nodes: number;
  /** Slots, over all services. */
  slots: number;
  pendingServices: number;
  countedServices: number;
  /** Nodes with a load (tasks on them that have not stopped). */
  loadedNodes: number;
  sharedSpecs: number;
  /** Services whose tasks share an `internal` object. */
  sharedInternals: number;
}

/** The labels of every task that has none: one object (committed objects are never changed). */
const NO_LABELS: Task['Labels'] = Object.freeze({});

/**
 * What MemoryStore keeps about its committed tasks beside the task table: indexes by service, node,
 * slot and state, per-node counts, and the parts tasks share. Each committed version goes through
 * `enter` (it replaces the one before) and each deleted task through `leave`; everything kept under a
 * service, node or slot goes with the last task there, so a long-running manager holds nothing for
 * what was scaled down, removed or left (issue 15).
 */
export class CommittedTasks {
  private byService = new TaskIndex<string>();
  private byNode = new TaskIndex<string>();
  /** Tasks in state PENDING by service: the scheduler's batches read these, not the service's 100,000 tasks. */
  private pendingByService = new TaskIndex<string>();
  /**
   * Replicated tasks by service, then slot (Slot > 0): who else holds a task's slot, without reading
   * the service's 100,000 tasks. Keyed by the slot number under its service, so a slot costs no key string.
   */
  private bySlot = new Map<string, TaskIndex<number>>();
  /** Task counts of each service by node (see MemoryStore.taskCountsByNode). */
  private counts = new ServiceTaskCounts();
  /** What the tasks on each node weigh (see MemoryStore.nodeLoad). */
  private loads = new NodeLoads();
  /** Tasks by observed state (see MemoryStore.taskCountsByState). */
  private byState = new Map<TaskState, number>();
  /** The spec object the tasks of each service share (see share), while the service has tasks. */
  private serviceSpecs = new Map<string, Task['Spec']>();
  /** The last spec `share` found equal to its service's shared one. */
  private lastSpecMatch: { given: Task['Spec']; shared: Task['Spec'] } | undefined;
  /** The `internal` object the tasks of each service share while it is equal (see share). */
  private serviceInternals = new Map<string, Task['internal']>();
  /** States and status messages, one string each (see share). */
  private words = new WordPool(WORDS_KEPT);
  /** The timestamps `share` kept last, by field: the tasks of one write, or of one snapshot's, carry the same ones. */
  private lastTimes = { created: '', updated: '', status: '' };

  constructor(private readonly heldId: HeldId) {}

  tasksOfService(serviceId: string): TaskIds | undefined {
    return this.byService.get(serviceId);
  }

  tasksOfNode(nodeId: string): TaskIds | undefined {
    return this.byNode.get(nodeId);
  }

  tasksOfSlot(serviceId: string, slot: number): TaskIds | undefined {
    return this.bySlot.get(serviceId)?.get(slot);
  }

  pendingOfService(serviceId: string): TaskIds | undefined {
    return this.pendingByService.get(serviceId);
  }

  countsByNode(serviceId: string): ReadonlyMap<string, Readonly<TaskCounts>> {
    return this.counts.byNode(serviceId);
  }

  countsByState(): ReadonlyMap<TaskState, number> {
    return this.byState;
  }

  loadOf(nodeId: string): Readonly<NodeLoad> | undefined {
    return this.loads.get(nodeId);
  }

  sizes(): TaskIndexSizes {
    let slots = 0;
    for (const s of this.bySlot.values()) slots += s.keyCount;
    return {
      services: this.byService.keyCount,
      nodes: this.byNode.keyCount,
      slots,
      pendingServices: this.pendingByService.keyCount,
      countedServices: this.counts.serviceCount,
      loadedNodes: this.loads.nodeCount,
      sharedSpecs: this.serviceSpecs.size,
      sharedInternals: this.serviceInternals.size,
    };
  }

  /**
   * `t`, a committed version of a task, replaces `old` (undefined: a new task). `t` is the store's
   * own from now on and may still be changed: its parts are shared first (see share).
   */
  enter(t: Task, old: Task | undefined): void {
    this.share(t, old);
    this.reindex(t.ID, old, t);
    if (old && old.ServiceID !== t.ServiceID) this.forgetServiceIfEmpty(old.ServiceID);
  }

  /** `old`, a committed task, is deleted. */
  leave(old: Task): void {
    this.reindex(old.ID, old, undefined);
    this.forgetServiceIfEmpty(old.ServiceID);
  }

  /** Everything dropped (a restore enters every task again). */
  clear(): void {
    this.byService.clear();
    this.byNode.clear();
    this.pendingByService.clear();
    this.bySlot.clear();
    this.counts.clear();
    this.loads.clear();
    this.byState.clear();
    this.serviceSpecs.clear();
    this.lastSpecMatch = undefined;
    this.serviceInternals.clear();
    this.words.clear();
    this.lastTimes = { created: '', updated: '', status: '' };
  }

  /**
   * Committed objects are never changed (a commit replaces them), so equal parts can be one object.
   * A task's spec is its service's task template at the task's creation: 100,000 tasks of one service
   * hold one spec object instead of 100,000 copies (issue 15: the copies were most of a manager's
   * memory at that size), and a task's new version keeps its old version's spec, attachments and
   * labels when they did not change, so readers (the dispatcher's "did the agent's view change") can
   * compare them by reference first. Tasks without labels share one empty object.
   *
   * A task decoded from its log entry also carries its own copy of every string: its service's and
   * node's IDs become the strings the store holds for them (the service's and node's objects', or the
   * old version's), one per service and node instead of one per task (≈ 95 B a task).
   * Its timestamps become one string where they are equal (to each other, to the old version's, to the
   * last task's: the tasks of one write carry the same time), its states and status message one string
   * each across tasks (a small vocabulary: `WordPool`), and its `internal` part the old version's or the
   * one its service's tasks share, when equal (≈ 200 B a decoded task: bench/store-memory).
   * Costs one structural comparison per committed task, and a map lookup for a new or moved one.
   */
  private share(t: Task, old: Task | undefined): void {
    // a frozen task was committed before (a store's own snapshot restored again): shared already
    if (!Object.isFrozen(t)) {
      t.ServiceID = old?.ServiceID === t.ServiceID ? old.ServiceID : (this.heldId('service', t.ServiceID) ?? t.ServiceID);
      if (t.NodeID) t.NodeID = old?.NodeID === t.NodeID ? old.NodeID : (this.heldId('node', t.NodeID) ?? t.NodeID);
      if (t.Labels !== undefined && isEmpty(t.Labels)) t.Labels = NO_LABELS;
      else if (old && t.Labels !== undefined && stableEqual(old.Labels, t.Labels)) t.Labels = old.Labels;
      t.CreatedAt = this.time('created', t.CreatedAt, old?.CreatedAt);
      t.UpdatedAt = t.UpdatedAt === t.CreatedAt ? t.CreatedAt : this.time('updated', t.UpdatedAt, old?.UpdatedAt);
      t.DesiredState = this.words.get(t.DesiredState);
      this.shareInternal(t, old);
      // a status the old version holds is shared already (a change of the desired state keeps it)
      const st = t.Status;
      if (st !== undefined && st !== old?.Status && !Object.isFrozen(st)) {
        st.Timestamp = st.Timestamp === t.UpdatedAt ? t.UpdatedAt : this.time('status', st.Timestamp, old?.Status.Timestamp);
        st.State = this.words.get(st.State);
        if (typeof st.Message === 'string') st.Message = this.words.get(st.Message);
      }
    }
    if (old) {
      if (t.NetworksAttachments !== undefined && stableEqual(old.NetworksAttachments, t.NetworksAttachments)) t.NetworksAttachments = old.NetworksAttachments;
      if (stableEqual(old.Spec, t.Spec)) {
        t.Spec = old.Spec;
        return;
      }
    }
    const shared = this.serviceSpecs.get(t.ServiceID);
    if (shared === t.Spec) return;
    // the new tasks of one write hold one copy of their template (storedVersion): compared once
    if (this.lastSpecMatch?.given === t.Spec && this.lastSpecMatch.shared === shared) {
      t.Spec = shared;
      return;
    }
    if (shared !== undefined && stableEqual(shared, t.Spec)) {
      this.lastSpecMatch = { given: t.Spec, shared };
      t.Spec = shared;
    } else if (t.ServiceID) this.serviceSpecs.set(t.ServiceID, t.Spec);
  }

  /** `time` as a string held already: the old version's, or the last one kept in its field, when equal. */
  private time(field: keyof CommittedTasks['lastTimes'], time: string, old: string | undefined): string {
    if (typeof time !== 'string') return time;
    if (time === old) return old;
    const last = this.lastTimes[field];
    if (time === last) return last;
    this.lastTimes[field] = time;
    return time;
  }

  /** A task's `internal` part: the old version's, or the one its service's tasks share, when equal. */
  private shareInternal(t: Task, old: Task | undefined): void {
    const mine = t.internal;
    if (mine === undefined || mine === null) return;
    if (old?.internal !== undefined && (old.internal === mine || stableEqual(old.internal, mine))) {
      t.internal = old.internal;
      return;
    }
    const shared = this.serviceInternals.get(t.ServiceID);
    if (shared !== undefined && stableEqual(shared, mine)) t.internal = shared;
    else if (t.ServiceID) this.serviceInternals.set(t.ServiceID, mine);
  }

  /**
   * Task `id` goes from the keys of version `old` to those of version `now` (undefined: none). Only the
   * keys that changed are touched: a status report leaves a task where it is in every index.
   */
  private reindex(id: string, old: Task | undefined, now: Task | undefined): void {
    if (old) {
      this.counts.add(old, -1);
      this.loads.add(old, -1);
      bump(this.byState, old.Status.State, -1);
    }
    if (now) {
      this.counts.add(now, 1);
      this.loads.add(now, 1);
      bump(this.byState, now.Status.State, 1);
    }
    this.byService.move(id, old?.ServiceID, now?.ServiceID);
    this.pendingByService.move(id, old?.Status.State === 'pending' ? old.ServiceID : undefined, now?.Status.State === 'pending' ? now.ServiceID : undefined);
    this.byNode.move(id, old?.NodeID || undefined, now?.NodeID || undefined);
    const sameSlot = old?.ServiceID === now?.ServiceID && old?.Slot === now?.Slot;
    if (old?.Slot && !sameSlot) {
      const slots = this.bySlot.get(old.ServiceID);
      slots?.delete(old.Slot, id);
      if (slots?.keyCount === 0) this.bySlot.delete(old.ServiceID);
    }
    if (now?.Slot && !sameSlot) {
      let slots = this.bySlot.get(now.ServiceID);
      if (!slots) this.bySlot.set(now.ServiceID, (slots = new TaskIndex<number>()));
      slots.add(now.Slot, id);
    }
  }

  /** The shared spec of a service stays while the service has tasks (a deleted service's last task may outlive it). */
  private forgetServiceIfEmpty(serviceId: string): void {
    if (this.byService.get(serviceId) !== undefined) return;
    this.serviceSpecs.delete(serviceId);
    this.serviceInternals.delete(serviceId);
  }
}

/** How many distinct states and status messages `share` keeps one string of (the rest stay the tasks' own). */
export const WORDS_KEPT = 512;

/**
 * One string for each of a bounded number of distinct strings: the states and status messages of tasks
 * are a small vocabulary, which a task decoded from the log spells anew. Once full it keeps the strings
 * it has and gives back new ones as they are (an error message that names a task is not worth keeping).
 */
class WordPool {
  private readonly words = new Map<string, string>();

  constructor(private readonly max: number) {}

  get<T extends string>(w: T): T {
    if (typeof w !== 'string') return w;
    const kept = this.words.get(w);
    if (kept !== undefined) return kept as T;
    if (this.words.size < this.max) this.words.set(w, w);
    return w;
  }

  clear(): void {
    this.words.clear();
  }
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}
