import type { MemoryStore, WriteTx } from '../../store';
import { isoTime } from '../../lib/time';
import { specProblem, type Service } from '../../types';
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
 * Tasks one reconcile pass creates (or removes) for one service at most. A larger gap is closed over
 * several passes, each its own store write, so no write is huge and the manager keeps answering
 * between them (issue 15's 100,000 replicas take 200 passes).
 */
export const MAX_TASKS_PER_PASS = 500;

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

/** Applies core decisions inside a write transaction; a task that vanished or changed meanwhile is skipped. */
export function applyMutations(tx: WriteTx, muts: readonly Mutation[]): void {
  for (const m of muts) {
    if (m.op === 'create') tx.create('task', m.task);
    else if (m.op === 'delete') tx.delete('task', m.id);
    else {
      const cur = tx.get('task', m.task.ID);
      if (cur && cur.Version.Index === m.task.Version.Index) tx.update('task', m.task);
    }
  }
}

/**
 * One reconcile pass per service, each its own store write: `decide` reads the service in the write
 * transaction and returns the mutations (undefined: nothing to do). Returns the services whose pass hit
 * MAX_TASKS_PER_PASS and need another one.
 */
export async function reconcilePasses(store: MemoryStore, serviceIds: readonly string[], decide: (tx: WriteTx, serviceId: string) => Mutation[] | undefined): Promise<string[]> {
  const capped: string[] = [];
  for (const sid of serviceIds) {
    const hit = await store.update((tx) => {
      const muts = decide(tx, sid);
      if (!muts) return false;
      applyMutations(tx, muts);
      return muts.length >= MAX_TASKS_PER_PASS;
    });
    if (hit) capped.push(sid);
  }
  return capped;
}

/** Marks every task of services that no longer exist for removal (one write per service). */
export async function removeTasksOfDeletedServices(store: MemoryStore, serviceIds: readonly string[], now: () => number): Promise<void> {
  for (const sid of serviceIds) {
    await store.update((tx) => {
      if (tx.get('service', sid)) return;
      applyMutations(tx, removeAllTasks(tx.shared.tasksByService(sid), now()));
    });
  }
}
