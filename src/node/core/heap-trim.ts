// When a quiet daemon should run a full garbage collection to give back memory a burst left behind.
//
// V8 lets its old generation grow to several times what survived the last major GC before it
// collects again, and its own memory reducer acts only once allocation has almost stopped: a leader
// holding a thousand sessions never gets there, so after a 100,000-task create it kept ≈ 200 MiB of
// garbage and emptied pages for good (docs/design/performance.md, scale15). Go's runtime gives such
// memory back by itself, so dockerd has no need of this; the JVM's periodic collection when idle
// (G1PeriodicGCInterval) is the same idea.
//
// The rule: the heap has grown well past where it stood after the last trim (or after V8's own
// collection that shrank it), and the event loop has been quiet for a while. Then a trim: rounds of
// full collections, each of which moves the survivors of only the emptiest pages and gives those
// pages back (V8, asked to optimize for size, moves a few MiB a collection, so no round needs much
// more memory than the process already holds: ../heap-trim.ts), one round a second while the loop
// stays quiet and each round frees enough.
// Then nothing until the heap grows again, and never two trims within `minIntervalMs`. A heap that
// grew because it holds more (not garbage) costs one round per growth step, not one per quiet period.
// Pure: samples come in with their time.

export interface HeapSample {
  atMs: number;
  /** Event-loop utilization since the previous sample, 0–1 (node's `performance.eventLoopUtilization`). */
  busy: number;
  /** What the heap holds now: V8's committed heap plus external memory (ArrayBuffers), in bytes. */
  heldBytes: number;
}

export interface HeapTrimSettings {
  /** A sample is quiet below this utilization. */
  quietBusy: number;
  /** How long the loop must have been quiet. */
  quietMs: number;
  /** The least growth over the floor worth a collection, in bytes… */
  minGrowthBytes: number;
  /** …and as a share of the floor. */
  growthRatio: number;
  /** The least time between two trims (from the end of one to the start of the next). */
  minIntervalMs: number;
  /** Another round follows while a round freed at least this much… */
  roundMinFreedBytes: number;
  /** …up to this many rounds a trim. */
  maxRounds: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_HEAP_TRIM: HeapTrimSettings = {
  // a leader idle with 1,000 sessions is 6–10 % busy; during a create, 60 % and more
  quietBusy: 0.25,
  quietMs: 10_000,
  minGrowthBytes: 32 * MiB,
  growthRatio: 0.25,
  minIntervalMs: 60_000,
  roundMinFreedBytes: 8 * MiB,
  maxRounds: 30,
};

export class HeapTrimPolicy {
  /** The least the heap held since the last trim: where growth is counted from. */
  private floor = Infinity;
  private quietSince: number | undefined;
  private lastTrimAt = -Infinity;
  /** Rounds done in the trim under way (0: none under way). */
  private rounds = 0;

  constructor(private readonly settings: HeapTrimSettings = DEFAULT_HEAP_TRIM) {}

  /** One sample; true when a round is due now. */
  observe(s: HeapSample): boolean {
    this.floor = Math.min(this.floor, s.heldBytes);
    if (s.busy >= this.settings.quietBusy) {
      this.quietSince = undefined;
      if (this.rounds > 0) this.finish(s.atMs, s.heldBytes);
      return false;
    }
    if (this.rounds > 0) return true;
    this.quietSince ??= s.atMs;
    const growth = s.heldBytes - this.floor;
    return (
      s.atMs - this.quietSince >= this.settings.quietMs &&
      s.atMs - this.lastTrimAt >= this.settings.minIntervalMs &&
      growth >= Math.max(this.settings.minGrowthBytes, this.floor * this.settings.growthRatio)
    );
  }

  /** A round ran, done at `atMs`: the heap held `beforeBytes` and now `afterBytes`. True: another round is wanted (sample again soon). */
  collected(atMs: number, beforeBytes: number, afterBytes: number): boolean {
    this.rounds++;
    if (beforeBytes - afterBytes >= this.settings.roundMinFreedBytes && this.rounds < this.settings.maxRounds) return true;
    this.finish(atMs, afterBytes);
    return false;
  }

  /** Rounds done in the trim under way. */
  get roundsDone(): number {
    return this.rounds;
  }

  private finish(atMs: number, heldBytes: number): void {
    this.rounds = 0;
    this.lastTrimAt = atMs;
    this.floor = heldBytes;
  }
}
