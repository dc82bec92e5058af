import type { MemoryStore, WriteTx } from '../../store';
import type { Rng } from '../../lib/ports';
import type { StoreLoopDeps } from '../store-loop';
import type { Mutation } from './core/common';
import { removeAllTasks } from './core/replicated';

/** What the orchestrator's loops get: the shared loop deps plus an ID source for the tasks they create. */
export interface LoopDeps extends StoreLoopDeps {
  rng: Rng;
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

/** Marks every task of services that no longer exist for removal (one write per service). */
export async function removeTasksOfDeletedServices(store: MemoryStore, serviceIds: readonly string[], now: () => number): Promise<void> {
  for (const sid of serviceIds) {
    await store.update((tx) => {
      if (tx.get('service', sid)) return;
      applyMutations(tx, removeAllTasks(tx.tasksByService(sid), now()));
    });
  }
}
