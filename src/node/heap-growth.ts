import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import v8 from 'node:v8';
import { HEAP_GROWTH_FROM_BYTES, heapGrowthPercent, type HeapGrowthSettings } from './core/heap-growth';

/**
 * `--heap-growth` (the rule and why: core/heap-growth.ts). After each full collection it reads what the
 * old generation kept and sets V8's `--heap-growing-percent` when the rule's answer changes; V8 reads that
 * flag at every full collection, so the limit it computes at the next one follows (set at run time it
 * holds: heap-growth.test.ts). Node reports each collection to a `gc` performance observer after it ends,
 * in a later turn; the old generation has taken little more since.
 */
export class HeapGrowth {
  private observer: PerformanceObserver | undefined;
  private applied = 0;

  private readonly settings: HeapGrowthSettings;

  /** `percent` as `--heap-growth` gives it; it applies from `fromBytes` kept (64 MiB unless a test says otherwise). */
  constructor(percent: number, fromBytes = HEAP_GROWTH_FROM_BYTES) {
    this.settings = { percent, fromBytes };
  }

  /** The percent set now: 0 while V8 chooses its own factor. */
  get percent(): number {
    return this.applied;
  }

  start(): void {
    if (this.observer || this.settings.percent === 0) return;
    this.observer = new PerformanceObserver((list) => {
      if (list.getEntries().some(isFullCollection)) this.afterFullCollection();
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** Stops following the collections; the flag stays as last set (it is the process's: a stopped daemon's process ends). */
  stop(): void {
    this.observer?.disconnect();
    this.observer = undefined;
  }

  private afterFullCollection(): void {
    let live = 0;
    for (const s of v8.getHeapSpaceStatistics()) if (s.space_name !== 'new_space' && s.space_name !== 'new_large_object_space') live += s.space_used_size;
    this.set(heapGrowthPercent(live, this.settings));
  }

  private set(percent: number): void {
    if (percent === this.applied) return;
    this.applied = percent;
    v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  }
}

function isFullCollection(e: PerformanceEntry): boolean {
  return ((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;
}
