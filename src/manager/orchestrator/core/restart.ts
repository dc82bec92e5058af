import { groupBySlot, isJob, isPerNode, isRunnable, isTerminal, jobIterationOf, newTask, restartConditionAllows, slotKeyOf, type Node, type Service, type Task } from '../../../types';
import { isoTime } from '../../../lib/time';
import { globalNodeKeeps } from './global';
import { DEFAULT_RESTART_DELAY_NS, NS_PER_MS, OLD_TASK_TIMEOUT_MS, type IdGen, type Mutation } from './common';

/** Restarts made in one slot since the spec version last changed (kept in memory by the loop, as swarmkit does). */
export interface SlotRestarts {
  specVersion: number;
  /** Times (ms) of each restart. */
  times: number[];
}
export type RestartHistory = ReadonlyMap<string, SlotRestarts>;

export const historyKey = (t: Pick<Task, 'ServiceID' | 'Slot' | 'NodeID'>): string => `${t.ServiceID}/${slotKeyOf(t)}`;

/** Applies the restart policy (of the task's own spec) to a task that stopped or lost its node. */
export function shouldRestart(t: Task, history: SlotRestarts | undefined, now: number): boolean {
  if (!restartConditionAllows(t)) return false;
  const p = t.Spec.RestartPolicy ?? {};
  const max = p.MaxAttempts ?? 0;
  if (max <= 0) return true;
  if (!history || history.specVersion !== t.internal.specVersion) return true;
  const windowMs = (p.Window ?? 0) / NS_PER_MS;
  if (windowMs <= 0) return history.times.length < max;
  return history.times.filter((x) => x > now - windowMs).length < max;
}

export interface RestartInput {
  service: Service;
  /**
   * The tasks to examine: all the service's, or only those events named (a failed task, the tasks of
   * a node gone Down), with `slotTasks` to see the rest of their slots.
   */
  tasks: readonly Task[];
  /** Every task of a task's slot (the store's slot index); default: its slot's tasks among `tasks`. */
  slotTasks?: (t: Task) => readonly Task[];
  nodes: ReadonlyMap<string, Node>;
  history: RestartHistory;
  now: number;
  newId: IdGen;
  /**
   * Mutations per pass at most (the orchestrator's MAX_TASKS_PER_PASS): a node failure that stops
   * tens of thousands of tasks is handled over several passes, each one store write under the Raft
   * entry size limit. Default: no bound.
   */
  limit?: number;
}

export interface RestartPlan {
  /** True when the bound stopped the pass early: another pass has more to do. */
  more?: boolean;
  mutations: Mutation[];
  /** Restarts to record in the history once the mutations are committed. */
  restarts: { key: string; specVersion: number; at: number }[];
}

/** Why a runnable task needs replacing, or null when it does not. */
export function restartReason(service: Service, t: Task, nodes: ReadonlyMap<string, Node>): 'stopped' | 'node-down' | 'drained' | null {
  if (!isRunnable(t.DesiredState)) return null;
  if (isJob(service)) {
    // A job's completed task is done, and an older iteration's tasks are the job orchestrator's.
    if (t.Status.State === 'complete' || t.JobIteration?.Index !== jobIterationOf(service)) return null;
  }
  if (isTerminal(t.Status.State)) return 'stopped';
  if (isPerNode(service) || !t.NodeID) return null; // the global orchestrators handle node changes
  const n = nodes.get(t.NodeID);
  if (!n || n.Status.State === 'down') return 'node-down';
  if (n.Spec.Availability === 'drain') return 'drained';
  return null;
}

/**
 * The restart supervisor's decisions for one live service: a runnable task that stopped (complete,
 * failed, rejected, shut down by the agent) or whose node is gone, Down or drained gets DesiredState
 * SHUTDOWN (its observed status is left as is); if the restart policy allows, a replacement is made in
 * the same slot (global: on the same node) from the current spec (PENDING when it needs nothing of the
 * allocator, else NEW) with DesiredState READY and a `delayedStart` record: RestartPolicy.Delay (default 5 s; none for a drained node), and, while the old
 * task may still run (drain), it also waits for that task to stop (at most a minute).
 */
export function planRestarts(input: RestartInput): RestartPlan {
  const { service, tasks, nodes, history, now, newId } = input;
  const out: RestartPlan = { mutations: [], restarts: [] };
  const stopping = new Set<string>();
  const candidates: { t: Task; reason: NonNullable<ReturnType<typeof restartReason>> }[] = [];
  for (const t of tasks) {
    const reason = restartReason(service, t, nodes);
    // A replacement that stopped before its own restart delay ran out (an agent prepares READY
    // tasks, so a missing image rejects it at once) waits out that delay before it is replaced:
    // otherwise every rejection makes the next task at once, a replacement storm (swarmkit's
    // Supervisor.Restart waits on the old task's delay the same way). promoteDelayed wakes us then.
    if (reason && deferredRestart(t, now)) continue;
    if (reason) {
      candidates.push({ t, reason });
      stopping.add(t.ID);
    }
  }
  const iteration = isJob(service) ? jobIterationOf(service) : undefined;
  // a job's slot is held only by a task of the current iteration
  const holds = (o: Task): boolean => isRunnable(o.DesiredState) && (iteration === undefined || o.JobIteration?.Index === iteration);
  const made = new Map<string, number>();
  const slotTasks = input.slotTasks ?? slotsAmong(tasks);
  // a candidate's slot is held by another when a runnable task of that slot is not being stopped now
  // (candidates are all in `stopping`, so none counts itself)
  const heldByAnother = (t: Task): boolean => slotTasks(t).some((o) => !stopping.has(o.ID) && holds(o));
  for (const { t, reason } of candidates) {
    if (input.limit !== undefined && out.mutations.length >= input.limit) {
      out.more = true;
      break;
    }
    out.mutations.push({ op: 'update', task: { ...t, DesiredState: 'shutdown', UpdatedAt: isoTime(now) } });
    const key = historyKey(t);
    if (isPerNode(service) && !globalNodeKeeps(service, t.NodeID ? nodes.get(t.NodeID) : undefined)) continue;
    // another runnable task already holds the slot (start-first update, or a replacement made now)
    if (made.has(key) || heldByAnother(t)) continue;
    const h = history.get(key);
    const times = h && h.specVersion === t.internal.specVersion ? h.times : [];
    // (`made` allows one restart per slot and pass, so none of this pass's restarts is for this slot)
    if (!shouldRestart(t, { specVersion: t.internal.specVersion, times }, now)) continue;
    const delayNs = reason === 'drained' ? 0 : (t.Spec.RestartPolicy?.Delay ?? DEFAULT_RESTART_DELAY_NS);
    // Nothing to wait for (no delay, no old task still running): start at once, as promoteDelayed
    // would in the next write, which saves a store round trip on the replacement's path (B4).
    const atOnce = delayNs <= 0 && reason !== 'drained';
    // NEW for the allocator, or PENDING when it needs no network address nor ports (newTask): on B4's path
    // that saves the allocator's NEW → PENDING write.
    const task = newTask({
      id: newId(),
      service,
      ...(isPerNode(service) ? { nodeId: t.NodeID } : { slot: t.Slot }),
      now,
      desiredState: atOnce ? (iteration !== undefined ? 'complete' : 'running') : 'ready',
      ...(iteration !== undefined ? { jobIteration: iteration } : {}),
    });
    if (!atOnce)
      task.internal.delayedStart =
        reason === 'drained'
          ? { notBefore: now + delayNs / NS_PER_MS, waitFor: t.ID, waitUntil: now + OLD_TASK_TIMEOUT_MS }
          : { notBefore: now + delayNs / NS_PER_MS };
    out.mutations.push({ op: 'create', task });
    out.restarts.push({ key, specVersion: service.internal.specVersion, at: now });
    made.set(key, 1);
  }
  return out;
}

/** Each task's slot among `tasks` (grouped once; the tasks are one service's). */
function slotsAmong(tasks: readonly Task[]): (t: Task) => readonly Task[] {
  const bySlot = groupBySlot(tasks);
  return (t) => bySlot.get(slotKeyOf(t)) ?? [];
}

/** A task still inside its own restart delay: its replacement is not made before that delay ends. */
const deferredRestart = (t: Task, now: number): boolean => t.DesiredState === 'ready' && !!t.internal.delayedStart && now < t.internal.delayedStart.notBefore;

/**
 * Starts delayed replacements whose time has come: DesiredState READY → RUNNING once `notBefore` has
 * passed and the task they wait for has stopped (terminal, or its node is gone/Down) or `waitUntil`
 * passed. One that stopped itself meanwhile (rejected) is not started: the wake-up at its `notBefore`
 * lets planRestarts replace it. Returns the updates and the earliest time (ms) worth waking up again, if any.
 */
export function promoteDelayed(tasks: readonly Task[], byId: Pick<ReadonlyMap<string, Task>, 'get'>, nodes: ReadonlyMap<string, Node>, now: number): { mutations: Mutation[]; wakeAt?: number } {
  const mutations: Mutation[] = [];
  let wakeAt: number | undefined;
  const wake = (at: number) => (wakeAt = wakeAt === undefined ? at : Math.min(wakeAt, at));
  for (const t of tasks) {
    const ds = t.internal.delayedStart;
    if (t.DesiredState !== 'ready' || !ds) continue;
    if (now < ds.notBefore) {
      wake(ds.notBefore);
      continue;
    }
    // stopped during its delay (rejected): planRestarts replaces it now, it never starts
    if (isTerminal(t.Status.State)) continue;
    if (ds.waitFor) {
      const old = byId.get(ds.waitFor);
      const oldNode = old?.NodeID ? nodes.get(old.NodeID) : undefined;
      const stopped = !old || isTerminal(old.Status.State) || !old.NodeID || !oldNode || oldNode.Status.State === 'down';
      if (!stopped && ds.waitUntil !== undefined && now < ds.waitUntil) {
        wake(ds.waitUntil);
        continue;
      }
    }
    const internal = { ...t.internal };
    delete internal.delayedStart;
    // a job's task runs to completion; a service's keeps running
    mutations.push({ op: 'update', task: { ...t, DesiredState: t.JobIteration ? 'complete' : 'running', UpdatedAt: isoTime(now), internal } });
  }
  return wakeAt === undefined ? { mutations } : { mutations, wakeAt };
}
