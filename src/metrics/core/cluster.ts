// What the metrics endpoint reports about the cluster, decided from store objects and store events
// alone: no clock, no I/O. The loop around it (src/metrics/metrics.ts) reads the store at scrape time
// and feeds it committed events; everything here is replayable in a unit test.
import type { Node, NodeState, Service, Task, TaskState } from '../../types';
import { isTaskDirty } from '../../types/dirty';
import { isRunnable } from '../../types/task-state';

/** Every node state, so a state with no node still reports 0 (as swarmkit's collector resets them). */
export const NODE_STATES: readonly NodeState[] = ['unknown', 'down', 'ready', 'disconnected'];

/** Every task state, in ladder order. */
export const TASK_STATES: readonly TaskState[] = [
  'new',
  'pending',
  'allocated',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
];

/** Counts objects by a key, starting every known key at 0. */
export function countBy<T, K extends string>(items: readonly T[], keys: readonly K[], keyOf: (item: T) => K): Map<K, number> {
  const out = new Map<K, number>(keys.map((k) => [k, 0]));
  for (const it of items) {
    const k = keyOf(it);
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

export const nodesByState = (nodes: readonly Node[]): Map<NodeState, number> => countBy(nodes, NODE_STATES, (n) => n.Status.State);
/** Task counts by state as the store keeps them, with every known task state there (0 when it has none). */
export const withEveryState = (counts: ReadonlyMap<TaskState, number>): Map<TaskState, number> => new Map(TASK_STATES.map((k) => [k, counts.get(k) ?? 0]));

/** Where a service's rolling update (or rollback) stands: tasks already on the current spec out of those wanted. */
export interface UpdateProgress {
  /** Docker's UpdateStatus.State (`updating`, `paused`, `completed`, `rollback_started`, …). */
  state: string;
  /** Tasks the cluster still wants that are made from the current spec and running. */
  updated: number;
  /** Tasks the cluster still wants (desired running). */
  total: number;
}

/**
 * A service's update progress, or undefined when it was never updated (no UpdateStatus). A task
 * counts as updated when its spec is the service's current one (the updater's own notion, isTaskDirty)
 * and it has reached RUNNING, as `docker service update`'s progress bars count it.
 */
export function updateProgress(service: Service, tasks: readonly Task[]): UpdateProgress | undefined {
  const st = service.UpdateStatus;
  if (!st) return undefined;
  let updated = 0;
  let total = 0;
  const sameAsTemplate = new Map<Task['Spec'], boolean>();
  for (const t of tasks) {
    if (!isRunnable(t.DesiredState)) continue;
    total++;
    if (t.Status.State === 'running' && !isTaskDirty(t, service, undefined, sameAsTemplate)) updated++;
  }
  return { state: st.State, updated, total };
}

/** The update states a service can report, so a dashboard can show each as 0/1. */
export const UPDATE_STATES = ['updating', 'paused', 'completed', 'rollback_started', 'rollback_paused', 'rollback_completed'] as const;

/** What one committed store event adds to the event-driven counters. */
export type EventEffect =
  /** A task was created for a slot (replicated) or node (global) that already had one: a replacement. */
  | { kind: 'replacement'; service: string; reason: 'update' | 'restart' }
  /** A task reached FAILED or REJECTED. */
  | { kind: 'failed'; service: string }
  /** A task reached RUNNING; `seconds` from its creation (swarmkit's scheduling delay). */
  | { kind: 'running'; service: string; seconds: number }
  /** A node was marked down because its heartbeats stopped. */
  | { kind: 'heartbeat-miss' }
  /** A service left the store: its labelled series go with it. */
  | { kind: 'service-removed'; service: string };

/** The other tasks of the same slot (replicated) or node (global) of a service, as the store holds them. */
export type SlotPeers = (task: Task) => readonly Task[];

/** The dispatcher's status message for a node whose heartbeats stopped (both its variants start so). */
const HEARTBEAT_FAILURE_PREFIX = 'heartbeat failure';

/**
 * The counter effects of one committed store event. `peers` is asked only for task creations; a
 * replacement made from a newer spec than its predecessors is an update, else a restart.
 */
export function effectsOf(
  ev: { kind: string; action: 'create' | 'update' | 'delete'; object: unknown; old?: unknown },
  peers: SlotPeers,
): EventEffect[] {
  if (ev.kind === 'service' && ev.action === 'delete') {
    return [{ kind: 'service-removed', service: (ev.object as Service).Spec.Name }];
  }
  if (ev.kind === 'node' && ev.action === 'update') {
    const n = ev.object as Node;
    const o = ev.old as Node | undefined;
    if (n.Status.State === 'down' && o?.Status.State !== 'down' && (n.Status.Message ?? '').startsWith(HEARTBEAT_FAILURE_PREFIX)) return [{ kind: 'heartbeat-miss' }];
    return [];
  }
  if (ev.kind !== 'task') return [];
  const t = ev.object as Task;
  const service = t.internal.serviceName;
  if (ev.action === 'create') {
    // Only tasks made before this one: events are counted a moment after they commit, and a later
    // replacement of this very task may already be in the store.
    const created = Date.parse(t.CreatedAt);
    const before = peers(t).filter((p) => p.ID !== t.ID && !(Date.parse(p.CreatedAt) > created));
    if (before.length === 0) return [];
    const newest = Math.max(...before.map((p) => p.internal.specVersion));
    return [{ kind: 'replacement', service, reason: t.internal.specVersion > newest ? 'update' : 'restart' }];
  }
  if (ev.action !== 'update') return [];
  const was = (ev.old as Task | undefined)?.Status.State;
  const now = t.Status.State;
  if (was === now) return [];
  if (now === 'failed' || now === 'rejected') return [{ kind: 'failed', service }];
  if (now === 'running') {
    const seconds = (Date.parse(t.Status.Timestamp) - Date.parse(t.CreatedAt)) / 1000;
    return Number.isFinite(seconds) && seconds >= 0 ? [{ kind: 'running', service, seconds }] : [];
  }
  return [];
}
