import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { Logger } from 'pino';
import { DEFAULT_HEAP_TRIM, HeapTrimPolicy, type HeapTrimSettings } from './core/heap-trim';
import { YoungGenerationPolicy } from './core/young-generation';
import { setYoungGeneration } from './young-generation';
import { collectGarbageNow } from '../sys/gc';

/**
 * The daemon's own memory reducer (the rule and why: core/heap-trim.ts): every `sampleMs` it reads the
 * event loop's utilization and what the heap holds, and runs a round of collection when the rule says
 * so, then the next round `roundGapMs` later while the rule wants more. A round stops the loop for
 * as long as a full collection takes (≈ 0.1–0.3 s with 100,000 tasks in the store), which is why it
 * waits for a quiet loop; one log line per trim. The same samples decide whether V8 may grow its
 * young generation (core/young-generation.ts), one log line per change.
 */
export class HeapTrimmer {
  private readonly policy: HeapTrimPolicy;
  /** Held from the start (node/main.ts sets it before loading the daemon), grown under load. */
  private readonly young = new YoungGenerationPolicy();
  private timer: NodeJS.Timeout | undefined;
  private elu: EventLoopUtilization | undefined;
  private trim: { heldBytes: number; rounds: number; pauseMs: number; longestMs: number } | undefined;
  private readonly sampleMs: number;
  private readonly roundGapMs: number;

  constructor(
    private readonly log: Logger,
    opts: { sampleMs?: number; roundGapMs?: number; settings?: HeapTrimSettings } = {},
  ) {
    this.policy = new HeapTrimPolicy(opts.settings ?? DEFAULT_HEAP_TRIM);
    this.sampleMs = opts.sampleMs ?? 5_000;
    this.roundGapMs = opts.roundGapMs ?? 1_000;
  }

  start(): void {
    if (this.timer) return;
    this.elu = performance.eventLoopUtilization();
    this.schedule(this.sampleMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.sample(), ms);
    this.timer.unref();
  }

  private sample(): void {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, this.elu).utilization;
    this.elu = now;
    const young = this.young.observe(performance.now(), busy);
    if (young) {
      setYoungGeneration(young);
      this.log.info({ busy: Math.round(busy * 100) / 100 }, young === 'growing' ? 'young generation may grow: the loop is busy' : 'young generation held: the loop has been quiet');
    }
    const before = heldBytes();
    if (!this.policy.observe({ atMs: performance.now(), busy, heldBytes: before })) {
      this.report(before);
      return this.schedule(this.sampleMs);
    }
    const t0 = performance.now();
    collectGarbageCompactingSome();
    const t1 = performance.now();
    const after = heldBytes();
    this.trim ??= { heldBytes: before, rounds: 0, pauseMs: 0, longestMs: 0 };
    this.trim.rounds++;
    this.trim.pauseMs += t1 - t0;
    this.trim.longestMs = Math.max(this.trim.longestMs, t1 - t0);
    const more = this.policy.collected(t1, before, after);
    // the round's own pause is not the loop's work
    this.elu = performance.eventLoopUtilization();
    if (more) return this.schedule(this.roundGapMs);
    this.report(after);
    this.schedule(this.sampleMs);
  }

  /**
   * One round now, when the heap holds at least `minBytes`: for the end of a burst whose garbage is known to be
   * dead, as a manager's start that read 100,000 tasks back from its snapshot and log. Until its first full
   * collection V8 keeps a starting old-generation limit far above that, so the restore's garbage stayed while
   * the loop was busy (performance.md, "The restarted manager's peak is its restore"). One log line.
   */
  collectNow(why: string, minBytes = 64 * 1024 * 1024): boolean {
    const before = heldBytes();
    if (before < minBytes) return false;
    const t0 = performance.now();
    collectGarbageCompactingSome();
    const pauseMs = Math.round(performance.now() - t0);
    this.log.info({ heldMiB: mib(before), afterMiB: mib(heldBytes()), pauseMs }, `heap collected: ${why}`);
    return true;
  }

  /** The trim under way has ended (its last round, or a busy loop stopped it): one line for it. */
  private report(heldNow: number): void {
    const t = this.trim;
    if (!t || this.policy.roundsDone > 0) return;
    this.trim = undefined;
    this.log.info(
      { heldMiB: mib(t.heldBytes), afterMiB: mib(heldNow), rounds: t.rounds, pauseMs: Math.round(t.pauseMs), longestPauseMs: Math.round(t.longestMs) },
      'heap trimmed: full garbage collections on a quiet loop',
    );
  }
}

function heldBytes(): number {
  const h = v8.getHeapStatistics();
  return h.total_heap_size + h.external_memory;
}

const mib = (n: number): number => Math.round(n / 1024 / 1024);

/**
 * A full, synchronous garbage collection that moves the survivors of the emptiest pages together
 * and gives those pages back. Node offers `gc` only behind `--expose-gc`; the flag is turned on just
 * long enough to take V8's `gc` from a new context (as Jest's leak detector does), so the daemon's
 * own global scope never has one.
 *
 * Why `--optimize-for-size` around it: a plain full collection frees the objects but keeps their
 * pages (after a 100,000-task create the leader stayed at ≈ 350 MiB of heap for ≈ 150 MiB used).
 * Compacting every page (`--compact-on-every-full-gc`) gives them all back at once, but copies every
 * survivor first: the leader's peak RSS rose by 75–110 MiB. Optimizing for size, V8 picks the pages
 * with the fewest survivors and moves at most a few MiB of them a collection, so each round frees
 * what it can without needing more memory (in a test heap of 2 million objects with a tenth kept:
 * 60 MiB a round, no rise of the peak). The flag is V8's for the collection only; it is off again before
 * anything else runs.
 */
function collectGarbageCompactingSome(): void {
  v8.setFlagsFromString('--optimize-for-size');
  try {
    collectGarbageNow();
  } finally {
    v8.setFlagsFromString('--no-optimize-for-size');
  }
}
