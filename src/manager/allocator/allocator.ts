import type { StoreEvent, WatchFilter } from '../../store';
import type { Task } from '../../types';
import { StoreLoop, type StoreLoopDeps } from '../store-loop';
import { allocateTask } from './core/allocate';

export type AllocatorDeps = StoreLoopDeps;

/** Moves wanted NEW tasks to PENDING, in one store write per batch of events. */
export class Allocator extends StoreLoop<AllocatorDeps> {
  protected readonly filter: WatchFilter = { kinds: ['task'], actions: ['create', 'update'] };
  private dirty = new Set<string>();

  protected onEvent(e: StoreEvent): boolean {
    const t = e.object as Task;
    if (t.Status.State === 'new') this.dirty.add(t.ID);
    return this.dirty.size > 0;
  }

  protected async flush(): Promise<undefined> {
    const { store, clock } = this.deps;
    const ids = this.take(this.dirty, () => store.read((tx) => tx.find('task', (t) => t.Status.State === 'new').map((t) => t.ID)));
    if (ids.length === 0) return;
    await store.update((tx) => {
      const now = clock.now();
      for (const id of ids) {
        const t = tx.get('task', id);
        const next = t && allocateTask(t, now);
        if (next) tx.update('task', next);
      }
    });
  }
}
