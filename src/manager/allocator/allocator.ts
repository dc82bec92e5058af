import type { MemoryStore, StoreEvent, Watch } from '../../store';
import type { Task } from '../../types';
import type { Clock } from '../../lib/ports';
import { allocateTask } from './core/allocate';

export interface AllocatorDeps {
  store: MemoryStore;
  clock: Clock;
  onError?: (err: unknown) => void;
  retryMs?: number;
}

/** Moves wanted NEW tasks to PENDING, in one store write per batch of events. */
export class Allocator {
  private watch: Watch | null = null;
  private dirty = new Set<string>();
  private full = true;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> | null = null;
  private stopped = true;

  constructor(private readonly deps: AllocatorDeps) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.full = true;
    const w = this.deps.store.watch({ kinds: ['task'], actions: ['create', 'update'] });
    this.watch = w;
    void this.pump(w);
    this.kick(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.close();
    this.watch = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flushing;
  }

  private async pump(w: Watch): Promise<void> {
    for (;;) {
      const r = await w.next();
      if (r.done || this.stopped) return;
      for (const e of [r.value, ...w.drain()]) this.onEvent(e);
      if (this.dirty.size > 0) this.kick(0);
    }
  }

  private onEvent(e: StoreEvent): void {
    const t = e.object as Task;
    if (t.Status.State === 'new') this.dirty.add(t.ID);
  }

  private kick(ms: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, ms);
  }

  private async run(): Promise<void> {
    if (this.flushing) {
      await this.flushing;
      return this.kick(0);
    }
    this.flushing = this.flush().then(
      () => undefined,
      (err) => {
        this.deps.onError?.(err);
        this.full = true;
        this.kick(this.deps.retryMs ?? 500);
      },
    );
    await this.flushing;
    this.flushing = null;
  }

  private async flush(): Promise<void> {
    const { store, clock } = this.deps;
    let ids = [...this.dirty];
    this.dirty.clear();
    if (this.full) {
      this.full = false;
      ids = store.read((tx) => tx.find('task', (t) => t.Status.State === 'new').map((t) => t.ID));
    }
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
