import { MAX_TASKS_PER_WRITE, type MemoryStore, type WriteTx } from '../../store';
import { isoTime } from '../../lib/time';
import { isRunnable, specProblem, type Service } from '../../types';
import type { Rng } from '../../lib/ports';
import type { StoreLoopDeps } from '../store-loop';
import type { Mutation } from './core/common';
import { removeAllTasks } from './core/replicated';

/** Where the orchestrator reports what it refuses to run (a structured logger's `warn`). */
export interface OrchestratorLogger {
  warn(obj: object, msg: string): void;
}

/** What the orchestrator's loops get: the shared loop deps plus an ID source for the tasks they create. */
export interface LoopDeps extends StoreLoopDeps {
  rng: Rng;
  logger?: OrchestratorLogger;
}

/**
 * Tasks one reconcile pass plans for one service at most; its mutations go out in writes of
 * MAX_TASKS_PER_WRITE. Planning reads every task of the service, so a plan per write made a
 * 100,000-replica create or removal quadratic (200 plans over 100,000 tasks); a plan per 10 writes
 * cuts that tenfold while a pass still ends often enough for other services' turns.
 */
export const MAX_TASKS_PER_PASS = 10 * MAX_TASKS_PER_WRITE;

const INVALID_SPEC = 'invalid service spec, not executed: ';

/**
 * Checks a stored spec with the control API's validator before executing it. The API refuses bad
 * specs, but the log may hold one written by an older version or a bug: it is skipped, never run,
 * and marked once (UpdateStatus paused with the reason: a service event, and `docker service inspect`
 * shows why) with a log line. Returns true when the service must be skipped.
 */
export function skipInvalidSpec(tx: WriteTx, service: Service, now: number, logger: OrchestratorLogger | undefined): boolean {
  const reason = specProblem(service.Spec);
  if (reason === undefined) return false;
  const message = INVALID_SPEC + reason;
  if (service.UpdateStatus?.Message !== message) {
    logger?.warn({ service: service.ID, name: service.Spec?.Name, reason }, 'stored service spec is invalid: not executed');
    tx.update('service', { ...service, UpdateStatus: { State: 'paused', StartedAt: service.UpdateStatus?.StartedAt, Message: message }, UpdatedAt: isoTime(now) });
  }
  return true;
}

/**
 * Applies core decisions inside a write transaction; a task that vanished or changed meanwhile is
 * skipped. Returns how many were skipped.
 */
export function applyMutations(tx: WriteTx, muts: readonly Mutation[]): number {
  let skipped = 0;
  for (const m of muts) {
    if (m.op === 'create') tx.create('task', m.task);
    else if (m.op === 'delete') tx.delete('task', m.id);
    else {
      const cur = tx.shared.get('task', m.task.ID);
      if (cur && cur.Version.Index === m.task.Version.Index) tx.update('task', m.task);
      else skipped++;
    }
  }
  return skipped;
}

/**
 * The rest of a plan, in a later write than the one that planned it: applied only while the service
 * is the version the plan was made from, and a create only into a slot still without a runnable task
 * (an update is checked by its task's version). Returns false when the plan no longer holds (the
 * service must be planned again).
 */
function applyLater(tx: WriteTx, serviceId: string, serviceVersion: number, muts: readonly Mutation[]): boolean {
  const service = tx.shared.get('service', serviceId);
  if (!service || service.Version.Index !== serviceVersion) return false;
  let ok = true;
  const fresh: Mutation[] = [];
  for (const m of muts) {
    const slot = m.op === 'create' ? m.task.Slot : undefined;
    if (slot && tx.shared.tasksBySlot(serviceId, slot, (t) => isRunnable(t.DesiredState)).length > 0) ok = false;
    else fresh.push(m);
  }
  return applyMutations(tx, fresh) === 0 && ok;
}

/**
 * One reconcile pass per service: `decide` reads the service in a write transaction and returns the
 * mutations (undefined: nothing to do, at most MAX_TASKS_PER_PASS). The first MAX_TASKS_PER_WRITE are
 * written by that transaction, the rest by the next ones (applyLater checks each still holds). Each
 * write goes out as soon as the one before is in the log (MemoryStore.write), not committed; the pass
 * ends once all of them are committed, and fails if one failed. Returns the services that need another
 * pass: the plan hit its bound, or part of it no longer held.
 */
export async function reconcilePasses(store: MemoryStore, serviceIds: readonly string[], decide: (tx: WriteTx, serviceId: string) => Mutation[] | undefined): Promise<string[]> {
  const again: string[] = [];
  const writes: Promise<void>[] = [];
  try {
    for (const sid of serviceIds) {
      const { result: planned, applied } = await store.write((tx) => {
        const muts = decide(tx, sid);
        if (!muts) return undefined;
        applyMutations(tx, muts.slice(0, MAX_TASKS_PER_WRITE));
        return { muts, version: tx.shared.get('service', sid)?.Version.Index ?? 0 };
      });
      writes.push(applied);
      if (!planned) continue;
      let held = true;
      for (let at = MAX_TASKS_PER_WRITE; held && at < planned.muts.length; at += MAX_TASKS_PER_WRITE) {
        const chunk = planned.muts.slice(at, at + MAX_TASKS_PER_WRITE);
        const later = await store.write((tx) => applyLater(tx, sid, planned.version, chunk));
        writes.push(later.applied);
        held = later.result;
      }
      if (!held || planned.muts.length >= MAX_TASKS_PER_PASS) again.push(sid);
    }
  } finally {
    // a pass that throws still waits for what it put in the log, so the next pass starts after it
    await Promise.allSettled(writes);
  }
  await Promise.all(writes);
  return again;
}

/** Marks every task of services that no longer exist for removal, in writes of at most MAX_TASKS_PER_WRITE. */
export async function removeTasksOfDeletedServices(store: MemoryStore, serviceIds: readonly string[], now: () => number): Promise<void> {
  // a bound on the writes of one service: 1,000 writes of MAX_TASKS_PER_WRITE are 500,000 tasks
  for (const sid of serviceIds) {
    for (let i = 0, more = true; more && i < 1000; i++) {
      // each write marks the next MAX_TASKS_PER_WRITE (one write for 100,000 tasks was over the Raft entry limit)
      more = await store.update((tx) => {
        if (tx.get('service', sid)) return false;
        const muts = removeAllTasks(tx.shared.tasksByService(sid), now());
        applyMutations(tx, muts.slice(0, MAX_TASKS_PER_WRITE));
        return muts.length > MAX_TASKS_PER_WRITE;
      });
    }
  }
}
