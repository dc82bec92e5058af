import type { MemoryStore, StoreEvent, Watch } from '../../store';
import { isTerminal, type Task } from '../../types';
import type { Clock } from '../../lib/ports';
import { buildNodeInfos, type NodeInfo } from './core/nodeinfo';
import { scheduleTasks } from './core/schedule';

export interface SchedulerDeps {
  store: MemoryStore;
  clock: Clock;
  onError?: (err: unknown) => void;
  retryMs?: number;
}

/**
 * The scheduler loop: assigns PENDING tasks to nodes, one store write per service and pass. Services
 * with tasks that fit nowhere are retried whenever a node changes or a task frees its node.
 */
export class Scheduler {
  private watch: Watch | null = null;
  private dirty = new Set<string>();
  /** Services that still have unplaced tasks. */
  private waiting = new Set<string>();
  private retry = false;
  private full = true;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> | null = null;
  private again = false;
  private stopped = true;

  constructor(private readonly deps: SchedulerDeps) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.full = true;
    const w = this.deps.store.watch({ kinds: ['task', 'node'] });
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
      let want = false;
      for (const e of [r.value, ...w.drain()]) want = this.onEvent(e) || want;
      if (want) this.kick(0);
    }
  }

  private onEvent(e: StoreEvent): boolean {
    if (e.kind === 'node') {
      this.retry = true;
      return this.waiting.size > 0;
    }
    const t = e.object as Task;
    if (e.action !== 'delete' && t.Status.State === 'pending') {
      this.dirty.add(t.ServiceID);
      return true;
    }
    // a task that stops, moves or goes away may free room (resources, max replicas)
    const old = e.old as Task | undefined;
    const freed = e.action === 'delete' || (old && ((!isTerminal(old.Status.State) && isTerminal(t.Status.State)) || old.NodeID !== t.NodeID || old.DesiredState !== t.DesiredState));
    if (freed) this.retry = true;
    return !!freed && this.waiting.size > 0;
  }

  private kick(ms: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, ms);
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    if (this.flushing) {
      this.again = true;
      return;
    }
    this.flushing = this.flush().catch((err) => {
      this.deps.onError?.(err);
      this.full = true;
      this.kick(this.deps.retryMs ?? 500);
    });
    await this.flushing;
    this.flushing = null;
    if (this.again) {
      this.again = false;
      this.kick(0);
    }
  }

  private async flush(): Promise<void> {
    const { store, clock } = this.deps;
    const services = new Set(this.dirty);
    this.dirty.clear();
    if (this.retry) for (const s of this.waiting) services.add(s);
    this.retry = false;
    if (this.full) {
      this.full = false;
      for (const t of store.read((tx) => tx.find('task', (x) => x.Status.State === 'pending'))) services.add(t.ServiceID);
    }
    if (services.size === 0) return;
    const infos: Map<string, NodeInfo> = store.read((tx) => buildNodeInfos(tx.find('node'), tx.find('task', (t) => !!t.NodeID && !isTerminal(t.Status.State))));
    for (const sid of [...services].sort()) {
      const unplaced = await store.update((tx) => {
        const pending = tx.tasksByService(sid).filter((t) => t.Status.State === 'pending');
        const r = scheduleTasks(pending, infos, clock.now());
        for (const u of r.updates) tx.update('task', u);
        return r.unplaced;
      });
      if (unplaced > 0) this.waiting.add(sid);
      else this.waiting.delete(sid);
    }
  }
}
