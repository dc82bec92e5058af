import type { MemoryStore, StoreEvent, Watch, WatchFilter } from '../store';
import type { Clock } from '../lib/ports';
import { Backoff } from '../sys/loop-guard';

/** What every store loop needs; components add their own ports on top (the orchestrator adds `rng`). */
export interface StoreLoopDeps {
  store: MemoryStore;
  clock: Clock;
  /**
   * Called with errors the loop survives (the manager logs them with their stack). A failed flush is
   * retried with a full rescan after `retryMs`, doubling while flushes keep failing up to
   * `maxRetryMs` (default 30 s); an event handler that throws forces a full rescan too.
   */
  onError?: (err: unknown) => void;
  retryMs?: number;
  maxRetryMs?: number;
}

/**
 * The shape every leader loop shares (orchestrator loops, allocator, scheduler): one store watch whose
 * events mark work dirty, one flush at a time (re-run if events arrive meanwhile), an optional wake-up
 * timer, retries on failure. `full` asks the next flush to rescan the store instead of trusting the
 * marks: set at start, after a failure and before a timed wake-up (unless `onWake` says otherwise).
 * Only this file and the loop files use timers.
 */
export abstract class StoreLoop<D extends StoreLoopDeps = StoreLoopDeps> {
  private watch: Watch | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private wakeTimer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  protected full = true;
  private backoff: Backoff;

  constructor(protected readonly deps: D) {
    this.backoff = new Backoff(deps.retryMs ?? 500, deps.maxRetryMs ?? 30_000);
  }

  protected abstract readonly filter: WatchFilter;
  /** Marks work for the event; return true to flush. */
  protected abstract onEvent(e: StoreEvent): boolean;
  /** Does the marked work; returns when (ms since the epoch) to wake up next, if at all. */
  protected abstract flush(): Promise<number | undefined>;
  /** Called before a timed wake-up flush. */
  protected onWake(): void {
    this.full = true;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.full = true;
    const w = this.deps.store.watch(this.filter);
    this.watch = w;
    void this.pump(w);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watch?.close();
    this.watch = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.timer = this.wakeTimer = null;
    await this.flushing;
  }

  /** Resolves once no flush is running or queued (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    while (this.flushing || this.timer) {
      await (this.flushing ?? new Promise((r) => setTimeout(r, 1)));
    }
  }

  /**
   * The work of this flush: the keys `rescan` lists when a full rescan is due (which clears it), else
   * the marked keys. `marked` is emptied either way; `rescan` runs only when needed.
   */
  protected take<K>(marked: Set<K>, rescan: () => K[]): K[] {
    const keys = [...marked];
    marked.clear();
    if (!this.full) return keys;
    this.full = false;
    return rescan();
  }

  protected kick(delayMs = 0): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run();
    }, delayMs);
  }

  // Waits on `ready` and reads the events in `take`, a call of its own: a suspended async function keeps the dead
  // locals of its last round (node 20), which here were the last write's events with the old versions they carry.
  private async pump(w: Watch): Promise<void> {
    for (;;) {
      if (!(await w.ready()) || this.stopped) return;
      let want: boolean;
      try {
        want = this.takeEvents(w);
      } catch (err) {
        // A mark may be lost: the rescan finds the work again. The pump itself goes on.
        this.report(err);
        this.full = true;
        want = true;
      }
      if (want) this.kick();
    }
  }

  /** Hands every queued event to onEvent; whether any asks for a pass. */
  private takeEvents(w: Watch): boolean {
    let want = false;
    for (const e of w.drain()) want = this.onEvent(e) || want;
    return want;
  }

  private report(err: unknown): void {
    try {
      if (this.deps.onError) this.deps.onError(err);
      else process.stderr.write(`store loop: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    } catch {
      // a failing logger must not stop the loop
    }
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    if (this.flushing) {
      this.again = true;
      return;
    }
    let done!: () => void;
    this.flushing = new Promise((r) => (done = r));
    try {
      const wakeAt = await this.flush();
      this.backoff.reset();
      this.setWake(wakeAt);
    } catch (err) {
      this.report(err);
      this.full = true;
      this.again = false;
      this.flushing = null;
      done();
      this.kick(this.backoff.next());
      return;
    }
    this.flushing = null;
    done();
    if (this.again) {
      this.again = false;
      this.kick();
    }
  }

  private setWake(at: number | undefined): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
    if (at === undefined || this.stopped) return;
    const delay = Math.max(0, at - this.deps.clock.now());
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      this.onWake();
      this.kick();
    }, delay);
  }
}

/** A leader component: one loop, one store watch; it runs only while this manager leads. */
export interface LeaderComponent {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/**
 * Starts a new leader's components one at a time: each after the one before has run its first pass and
 * the event loop has polled for I/O once. A StoreLoop's first pass is a timer its start() sets, so
 * components started together ran their first passes in one timers phase, and at 100,000 tasks that is
 * about a second (restart supervisor, update supervisor, enforcer, orchestrator, reaper: 140–240 ms each)
 * in which no socket was read: the first write after a failover, and the Raft messages it needs,
 * waited behind all of them (performance.md, "A new leader's first passes in turns").
 */
export async function startInTurns(components: readonly LeaderComponent[]): Promise<void> {
  for (const c of components) {
    await c.start();
    // A timer set after the component's, so its first pass runs first; then an immediate, which runs only
    // after the next poll for I/O, whatever phase the timer resolved in. With the timer alone the unit test
    // once saw the next component's first pass before the I/O (in the parallel suite, under load; not
    // reproduced alone, not even with a first pass of 5 ms).
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
