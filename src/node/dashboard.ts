// Wires the web dashboard (src/dashboard) to the daemon: the backend the Engine API uses, and a
// change signal from the manager role's store (nodes, services, tasks). Only wiring: what the page
// shows and does is decided in src/dashboard.
import type { MemoryStore, Watch } from '../store';
import type { ClusterChanges } from '../dashboard';
import { forEachGuarded, runInBackground, type GuardLogger } from '../sys/loop-guard';

/** Tells the dashboard when the store of this node's manager role changes; follows role switches. */
export class StoreChanges implements ClusterChanges {
  private readonly listeners = new Set<() => void>();
  private watch?: Watch;

  constructor(private readonly log: GuardLogger) {}

  subscribe(onChange: () => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  /** A manager role started: its store is the one to follow (and what the page shows may differ already). */
  attach(store: MemoryStore): void {
    this.watch?.close();
    const w = store.watch({ kinds: ['node', 'service', 'task'] });
    this.watch = w;
    runInBackground('dashboard feed', forEachGuarded(w, () => this.notify(), { name: 'dashboard feed', log: this.log }), this.log);
    this.notify();
  }

  close(): void {
    this.watch?.close();
    this.listeners.clear();
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }
}
