import {
  isBefore,
  isGlobal,
  isReplicated,
  isRunnable,
  isTaskDirty,
  isTerminal,
  newTask,
  replicasOf,
  restartConditionAllows,
  slotKeyOf,
  stableEqual,
  type Node,
  type Service,
  type SlotKey,
  type Task,
  type TaskState,
  type UpdateOrder,
  type UpdateStatus,
} from '../../../types';
import { isoTime } from '../../../lib/time';
import {
  completedStatus,
  configFor,
  isActiveState,
  isFinishedState,
  isPausedState,
  isRollbackState,
  msgPaused,
  msgRollbackPaused,
  msgRolledBack,
  startedStatus,
} from './config';

// The update supervisor's planner: given one service, all its tasks, the nodes, the time and what the
// loop remembered from the previous pass (the memo), it decides the next writes of a rolling update
// or rollback. It is pure: the loop runs it inside a store transaction and writes the result.
//
// The model is swarmkit's updater. Slots (replicated: slot number; global: node) whose live tasks (or
// tasks stopped and awaiting a restart) include a dirty one are replaced `parallelism` at a time. Each
// replacement occupies a "worker" from its creation until it is RUNNING (and healthy when a health
// state is reported) or has ended, plus `Delay`. stop-first: the new task is created with DesiredState
// READY and the old ones are shut down at once; the new one is switched to RUNNING when the old ones
// have stopped (or their node is Down or gone). start-first: the new task is created RUNNING; the old ones are shut down once it is
// running. A replacement that ends (any state past RUNNING) before it ran, or within `Monitor` after
// it started running, is a failure; failures / dirty slots > MaxFailureRatio triggers FailureAction.
// Once nothing is dirty and no worker is busy, the update completes after one more `Monitor`.

/** A replacement this update made (or adopted), and what the planner saw of it. */
export interface TrackedTask {
  id: string;
  slot: SlotKey;
  order: UpdateOrder;
  /** When it was first seen RUNNING (and healthy, if health is reported). */
  runningAt?: number;
  /** When its worker was freed: it ran, ended, went away or was stopped by someone else. */
  finishedAt?: number;
  failed?: boolean;
}

/** What the loop keeps between passes for one service (lost on leader change; rebuilt safely). */
export interface UpdateMemo {
  /** The service spec version this memo is about. */
  specVersion: number;
  /** The UpdateStatus the store holds after this pass (tells a status we wrote from one others wrote). */
  status?: UpdateStatus;
  /** Dirty slots when the run began: the denominator of the failure ratio. */
  totalDirty?: number;
  failures: number;
  tracked: TrackedTask[];
  /** Since when nothing has been dirty or busy (the final monitor window runs from here). */
  quietSince?: number;
  /**
   * Set by an automatic rollback: the run must wait one monitor window before it completes even when
   * nothing is left to replace (the failed tasks are already stopped; their restarts use the restored
   * spec), so `rollback_started` and its message stay visible, as in Docker.
   */
  settle?: boolean;
  /** How long the last look for tasks to bump waited while a scale-down went on (BUMP_AFTER_SCALE_DOWN_MS, doubled each time). */
  bumpWaitMs?: number;
}

export interface PlanInput {
  service: Service;
  /** Every task of the service, history included. */
  tasks: readonly Task[];
  nodes: ReadonlyMap<string, Node>;
  /** Milliseconds since the epoch. */
  now: number;
  newId: () => string;
  memo?: UpdateMemo;
}

export interface UpdatePlan {
  /** The service to write, when it changed (UpdateStatus, or Spec on an automatic rollback). */
  service?: Service;
  create: Task[];
  update: Task[];
  /** When to plan again even if nothing changes in the store. */
  wakeAt?: number;
  memo: UpdateMemo;
  /** What was decided, in words (logs, golden traces). */
  events: string[];
}

const isJob = (s: Service): boolean => !!s.Spec.Mode.ReplicatedJob || !!s.Spec.Mode.GlobalJob;

/** Observed RUNNING, and healthy when the agent reports a health state. */
export const isTaskUp = (t: Task): boolean => t.Status.State === 'running' && (t.internal.health === undefined || t.internal.health === 'healthy');

const live = (t: Task): boolean => isRunnable(t.DesiredState) && !isTerminal(t.Status.State);

/**
 * A task that stopped while still wanted and whose restart policy will replace it: the restart supervisor
 * has not got to it yet, or it is a delayed replacement rejected within its own delay. Its slot is still
 * the service's (swarmkit's UpdatableTasksInSlot counts tasks by desired state alone), so an out-of-date
 * one makes the slot dirty and the update replaces it from the new spec. Not counting it, a rollback that
 * met the failed slot of a paused update in that window found nothing to do and completed at once, and
 * the slot came back only after the restart delay (the CLI never saw rollback_started).
 */
const awaitsRestart = (t: Task): boolean => isRunnable(t.DesiredState) && isTerminal(t.Status.State) && restartConditionAllows(t);
const updatable = (t: Task): boolean => live(t) || awaitsRestart(t);

function compareSlotKeys(a: SlotKey, b: SlotKey): number {
  const na = a.startsWith('slot:') ? Number(a.slice(5)) : NaN;
  const nb = b.startsWith('slot:') ? Number(b.slice(5)) : NaN;
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}

function cloneMemo(m: UpdateMemo): UpdateMemo {
  return { ...m, tracked: m.tracked.map((r) => ({ ...r })) };
}

/**
 * Clean tasks one pass brings to the new spec version at most. A new spec version (a scale, a label)
 * leaves every live task of the service with the old one: 100,000 of them in one write were over Raft's
 * entry limit, so the write failed and was retried forever. The rest go in the next passes (as the
 * orchestrator's MAX_TASKS_PER_PASS splits a big create).
 */
export const MAX_BUMPS_PER_PASS = 500;

/**
 * How soon a pass looks again for tasks to bump while a scale-down goes on, the first time; each look
 * that still finds the surplus waits twice as long, up to BUMP_AFTER_SCALE_DOWN_MAX_MS. Each look is a
 * pass over every task of the service: a look every second was 40 passes over 100,000 tasks while they
 * were removed (13 % of the leader's time, issue 15). A bump is the planner's own bookkeeping (Docker
 * has no such write, and a task of an older version is still judged by its spec), so a late one is seen
 * by nobody.
 */
export const BUMP_AFTER_SCALE_DOWN_MS = 1_000;
export const BUMP_AFTER_SCALE_DOWN_MAX_MS = 8_000;

/** Slots with a live task: more than the replicas while the orchestrator removes a surplus. */
function liveSlotCount(tasks: Iterable<Task>): number {
  const slots = new Set<SlotKey>();
  for (const t of tasks) if (live(t)) slots.add(slotKeyOf(t));
  return slots.size;
}

/**
 * Whether a task's node counts as gone (missing or Down): a replacement waiting for a task there stops
 * waiting. It is all the planner reads of a node's status, so a node event that does not change it (a new
 * leader's Ready → Unknown → Ready of every node) cannot change a plan (the supervisor's filter).
 */
export function nodeIsGone(n: Node | undefined): boolean {
  return !n || n.Status.State === 'down';
}

export function planUpdate(input: PlanInput): UpdatePlan {
  const { service, nodes, now } = input;
  const nowIso = isoTime(now);
  const version = service.internal.specVersion;
  const events: string[] = [];
  const stored = service.UpdateStatus;

  // Whose is the stored UpdateStatus? If it is exactly the one we left for an older spec version, a
  // newer spec has superseded it (a paused update resumes, a running one restarts): treat it as absent.
  const prev = input.memo;
  const stale = stored !== undefined && prev !== undefined && prev.specVersion !== version && stableEqual(prev.status, stored);
  let status: UpdateStatus | undefined = stale ? undefined : stored;
  if (stale) events.push(`status ${stored.State} superseded by spec version ${version}`);
  const memo: UpdateMemo = prev && prev.specVersion === version ? cloneMemo(prev) : { specVersion: version, failures: 0, tracked: [] };

  const done = (wakeAt?: number, svc?: Service): UpdatePlan => finish(wakeAt, svc);
  /** Step 1 left clean tasks of an older spec version for the next pass… */
  let bumpsLeft = false;
  /** …or for a pass at this time, once a scale-down has gone through. */
  let bumpLaterAt: number | undefined;

  // Working set: every task by ID, with this pass's writes applied.
  const cur = new Map<string, Task>(input.tasks.map((t) => [t.ID, t]));
  const createdIds = new Set<string>();
  const touched = new Set<string>();
  const write = (t: Task, patch: Partial<Task>): Task => {
    const n: Task = { ...t, ...patch, UpdatedAt: nowIso };
    cur.set(n.ID, n);
    touched.add(n.ID);
    return n;
  };
  const nodeOf = (t: Task): Node | undefined => (t.NodeID ? nodes.get(t.NodeID) : undefined);
  const sameAsTemplate = new Map<Task['Spec'], boolean>();
  const dirty = (t: Task): boolean => isTaskDirty(t, service, nodeOf(t), sameAsTemplate);
  const slotTasks = (key: SlotKey): Task[] => [...cur.values()].filter((t) => slotKeyOf(t) === key);

  function finish(wakeAt: number | undefined, svcOverride?: Service): UpdatePlan {
    let svc = svcOverride;
    if (!svc && !stableEqual(status, stored)) {
      const { UpdateStatus: _drop, ...rest } = service;
      svc = { ...rest, UpdatedAt: nowIso, ...(status ? { UpdateStatus: status } : {}) } as Service;
    }
    if (!svcOverride) memo.status = status;
    const plan: UpdatePlan = {
      create: [...createdIds].map((id) => cur.get(id) as Task),
      update: [...touched].filter((id) => !createdIds.has(id)).map((id) => cur.get(id) as Task),
      memo,
      events,
    };
    if (svc) plan.service = svc;
    // tasks left with an older spec version: the next pass at once
    let wake = bumpsLeft ? Math.min(wakeAt ?? now, now) : wakeAt;
    if (bumpLaterAt !== undefined) wake = Math.min(wake ?? bumpLaterAt, bumpLaterAt);
    if (wake !== undefined) plan.wakeAt = wake;
    return plan;
  }

  if (isJob(service)) return done();

  // 1. Clean tasks made from an older spec version only need the version brought up to date
  //    (MAX_BUMPS_PER_PASS at most: the rest in the next passes). Not while the service has more live
  //    slots than replicas: the orchestrator is removing the surplus, and most of what would be bumped
  //    is about to go (a 100,000 → 0 scale bumped 500 tasks a pass, each pass over all of them, beside
  //    the removal). The pass after it has gone through bumps what is left.
  let bumps = 0;
  for (const t of [...cur.values()]) {
    if (live(t) && t.internal.specVersion !== version && !dirty(t)) {
      // counted only once there is something to bump: most passes have nothing, and this is a pass over every task
      if (bumps === 0 && isReplicated(service) && liveSlotCount(cur.values()) > replicasOf(service)) {
        memo.bumpWaitMs = memo.bumpWaitMs === undefined ? BUMP_AFTER_SCALE_DOWN_MS : Math.min(2 * memo.bumpWaitMs, BUMP_AFTER_SCALE_DOWN_MAX_MS);
        bumpLaterAt = now + memo.bumpWaitMs;
        break;
      }
      delete memo.bumpWaitMs;
      if (bumps++ >= MAX_BUMPS_PER_PASS) {
        bumpsLeft = true;
        break;
      }
      write(t, { internal: { ...t.internal, specVersion: version } });
      events.push(`bump ${t.ID}`);
    }
  }

  const rollingBack = isRollbackState(status?.State);
  const cfg = configFor(service, rollingBack);

  // 2. Adopt our own waiting replacements the memo does not know (after a leader change): clean, READY,
  //    not a delayed restart of the restart supervisor.
  const trackedIds = new Set(memo.tracked.map((r) => r.id));
  for (const t of cur.values()) {
    if (trackedIds.has(t.ID) || !live(t) || t.DesiredState === 'running' || t.internal.delayedStart || dirty(t)) continue;
    memo.tracked.push({ id: t.ID, slot: slotKeyOf(t), order: 'stop-first' });
    trackedIds.add(t.ID);
    events.push(`adopt ${t.ID}`);
  }

  // 3. Observe the replacements: running, ended (a failure inside the monitor window), gone.
  const newFailures: string[] = [];
  const observe = (r: TrackedTask): void => {
    const t = cur.get(r.id);
    if (!t) {
      r.finishedAt ??= now;
      return;
    }
    if (isTerminal(t.Status.State)) {
      r.finishedAt ??= now;
      if (!r.failed && (r.runningAt === undefined || now - r.runningAt <= cfg.monitorMs)) {
        r.failed = true;
        memo.failures++;
        newFailures.push(r.id);
        events.push(`failure ${r.id} (${t.Status.State})`);
      }
      return;
    }
    if (isTaskUp(t)) {
      r.runningAt ??= now;
      r.finishedAt ??= now;
      return;
    }
    if (!isRunnable(t.DesiredState)) r.finishedAt ??= now;
  };
  for (const r of memo.tracked) observe(r);

  // 4. Drive the replacements: stop the tasks they replace, start stop-first ones once those stopped.
  const nodeGone = (t: Task): boolean => nodeIsGone(nodeOf(t));
  const drive = (r: TrackedTask): void => {
    const t = cur.get(r.id);
    if (!t || !live(t)) return;
    const others = slotTasks(r.slot).filter((o) => o.ID !== t.ID);
    const shutdownOthers = (): void => {
      for (const o of others) {
        if (!isRunnable(o.DesiredState)) continue;
        write(o, { DesiredState: 'shutdown' });
        events.push(`shutdown ${o.ID}`);
      }
    };
    if (isBefore(t.DesiredState, 'running')) {
      shutdownOthers();
      const blockers = slotTasks(r.slot).filter((o) => o.ID !== t.ID && !isTerminal(o.Status.State) && !!o.NodeID && !nodeGone(o));
      if (blockers.length === 0) {
        write(t, { DesiredState: 'running' });
        events.push(`start ${t.ID}`);
      }
    } else if (r.order === 'stop-first' || isTaskUp(t)) {
      shutdownOthers();
    }
  };
  const driveAll = (): void => {
    for (const r of memo.tracked) drive(r);
  };

  // 5. Failure action.
  if (newFailures.length > 0 && status && !isPausedState(status.State) && cfg.failureAction !== 'continue') {
    const ratio = memo.failures / Math.max(1, memo.totalDirty ?? 1);
    if (ratio > cfg.maxFailureRatio) {
      const failedId = newFailures[newFailures.length - 1] as string;
      if (cfg.failureAction === 'rollback' && !rollingBack && service.PreviousSpec) {
        // Automatic rollback (swarmkit): Spec ← PreviousSpec, PreviousSpec cleared, then roll back
        // with RollbackConfig. The spec version moves forward so tasks of the failed spec never count
        // as up to date.
        status = { ...status, State: 'rollback_started', Message: msgRolledBack(failedId) };
        const { PreviousSpec: _prevSpec, UpdateStatus: _st, ...rest } = service;
        const { previousSpecVersion: _pv, ...internal } = service.internal;
        const newVersion = Math.max(version, service.internal.previousSpecVersion ?? 0) + 1;
        const svc: Service = { ...rest, Spec: structuredClone(service.PreviousSpec), UpdatedAt: nowIso, UpdateStatus: status, internal: { ...internal, specVersion: newVersion } };
        events.push(`rollback (task ${failedId})`);
        const plan = finish(undefined, svc);
        plan.memo = { specVersion: newVersion, status, failures: 0, tracked: [], quietSince: now, settle: true };
        return plan;
      }
      const paused: UpdateStatus['State'] = rollingBack ? 'rollback_paused' : 'paused';
      const message = cfg.failureAction === 'rollback' && rollingBack ? msgRollbackPaused(failedId) : msgPaused(failedId);
      status = { ...status, State: paused, Message: message };
      events.push(`${paused} (task ${failedId})`);
      driveAll();
      return done();
    }
  }

  // 6. A paused update stays paused until the spec changes; replacements already made still finish.
  if (isPausedState(status?.State)) {
    driveAll();
    return done();
  }

  // 7. Which slots need replacing (after the replacements under way did their part), and the start
  //    of an update.
  driveAll();
  const dirtySlotKeys = (): SlotKey[] => {
    const keys = new Set<SlotKey>();
    for (const t of cur.values()) if (updatable(t) && dirty(t)) keys.add(slotKeyOf(t));
    return [...keys].sort(compareSlotKeys);
  };
  const dirtySlots = dirtySlotKeys();
  if (dirtySlots.length > 0) {
    if (!status) {
      status = startedStatus(nowIso);
      memo.totalDirty = dirtySlots.length;
      events.push(`update started (${dirtySlots.length} slots)`);
    }
    memo.totalDirty ??= dirtySlots.length;
  }

  // 8. Hand dirty slots to free workers.
  const busyUntil = (r: TrackedTask): number => (r.finishedAt === undefined ? Infinity : r.finishedAt + cfg.delayMs);
  let free = cfg.parallelism - memo.tracked.filter((r) => now < busyUntil(r)).length;
  const inFlight = new Set(memo.tracked.filter((r) => r.finishedAt === undefined).map((r) => r.slot));
  for (const key of dirtySlots) {
    if (free <= 0) break;
    if (inFlight.has(key)) continue;
    const tasks = slotTasks(key).filter(live);
    // a delayed restart of the restart supervisor holds this slot: it will start it, then we look again
    if (tasks.some((t) => !dirty(t) && t.internal.delayedStart)) continue;
    const cleanRunning = tasks.find((t) => !dirty(t) && t.DesiredState === 'running');
    const cleanWaiting = tasks.find((t) => !dirty(t) && isBefore(t.DesiredState, 'running'));
    let rec: TrackedTask;
    if (cleanRunning) {
      rec = { id: cleanRunning.ID, slot: key, order: cfg.order };
      events.push(`use ${cleanRunning.ID} for ${key}`);
    } else if (cleanWaiting) {
      rec = { id: cleanWaiting.ID, slot: key, order: 'stop-first' };
      events.push(`use ${cleanWaiting.ID} for ${key}`);
    } else {
      // (a slot whose only task awaits a restart: the new task takes its slot, shutdownOthers its place)
      const first = tasks[0] ?? (slotTasks(key).find(updatable) as Task);
      const desiredState: TaskState = cfg.order === 'start-first' ? 'running' : 'ready';
      const t = newTask({
        id: input.newId(),
        service,
        ...(isGlobal(service) ? { nodeId: first.NodeID } : { slot: first.Slot }),
        now,
        desiredState,
      });
      cur.set(t.ID, t);
      createdIds.add(t.ID);
      rec = { id: t.ID, slot: key, order: cfg.order };
      events.push(`create ${t.ID} for ${key} (${desiredState})`);
    }
    memo.tracked = memo.tracked.filter((r) => r.id !== rec.id);
    memo.tracked.push(rec);
    observe(rec);
    drive(rec);
    free--;
  }

  // 9. Completion: nothing dirty, no worker busy, and one more monitor window without a failure.
  let wakeAt: number | undefined;
  const wake = (at: number): void => {
    if (at > now && at !== Infinity) wakeAt = wakeAt === undefined ? at : Math.min(wakeAt, at);
  };
  for (const r of memo.tracked) wake(busyUntil(r));
  const quiet = dirtySlotKeys().length === 0 && memo.tracked.every((r) => now >= busyUntil(r));
  if (status && isActiveState(status.State)) {
    if (!quiet) memo.quietSince = undefined;
    else if (memo.tracked.length === 0 && !memo.settle) {
      status = completedStatus(status, nowIso);
      events.push(status.State);
    } else {
      memo.quietSince ??= now;
      if (now >= memo.quietSince + cfg.monitorMs) {
        status = completedStatus(status, nowIso);
        events.push(status.State);
      } else wake(memo.quietSince + cfg.monitorMs);
    }
  } else if (status && isFinishedState(status.State) && !quiet) {
    // Tasks went out of date after the update finished (e.g. a node came back with an old task):
    // replaced quietly, as swarmkit does, without a new UpdateStatus.
    memo.quietSince = undefined;
  }
  return done(wakeAt);
}
