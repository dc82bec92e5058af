// Long-running loops (store watches, follow-ups of the cluster object, event feeds) must never die
// silently: a step that throws is logged with its stack and the loop goes on, pausing between
// failures with a backoff that doubles up to a bound, so a failure that repeats on every event
// neither spins the CPU nor floods the log. Steps are written to re-read what they need (they
// reconcile), so the next step after a failure repairs what the failed one left undone.
import { setTimeout as sleep } from 'node:timers/promises';

/** The part of the daemon's pino logger a guard writes to (`err` is serialized with its stack). */
export interface GuardLogger {
  error(obj: unknown, msg?: string): void;
}

export interface LoopGuardOptions {
  /** Which loop, for the log line. */
  name: string;
  log?: GuardLogger;
  /** First pause after a failure; doubles while failures go on, up to `maxMs`. Defaults 100 ms and 30 s. */
  minMs?: number;
  maxMs?: number;
}

/** A pause that doubles from `minMs` to `maxMs` on each failure and starts over after a success. */
export class Backoff {
  private failures = 0;
  constructor(
    readonly minMs = 100,
    readonly maxMs = 30_000,
  ) {}
  /** The pause after one more failure. */
  next(): number {
    const ms = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return ms;
  }
  reset(): void {
    this.failures = 0;
  }
  get failing(): number {
    return this.failures;
  }
}

export class LoopGuard {
  private readonly backoff: Backoff;
  constructor(private readonly o: LoopGuardOptions) {
    this.backoff = new Backoff(o.minMs ?? 100, o.maxMs ?? 30_000);
  }

  /** Runs one step; a throw is logged with its stack, then the guard pauses (bounded) before returning. */
  async step(fn: () => unknown): Promise<boolean> {
    try {
      await fn();
      this.backoff.reset();
      return true;
    } catch (err) {
      const pauseMs = this.backoff.next();
      (this.o.log ?? consoleLogger).error({ err, loop: this.o.name, failures: this.backoff.failing, pauseMs }, `${this.o.name}: loop step failed; the loop goes on`);
      await sleep(pauseMs);
      return false;
    }
  }
}

/** Runs `step` for every item of `source` until it ends, through a LoopGuard. */
export async function forEachGuarded<T>(source: AsyncIterable<T>, step: (item: T) => unknown, o: LoopGuardOptions | LoopGuard): Promise<void> {
  const guard = o instanceof LoopGuard ? o : new LoopGuard(o);
  for await (const item of source) await guard.step(() => step(item));
}

/**
 * For a background task started without anyone awaiting it: a rejection is logged with its stack
 * instead of becoming an unhandled rejection (which stops the daemon, see node/main.ts).
 */
export function runInBackground(name: string, p: Promise<unknown>, log?: GuardLogger): void {
  p.catch((err: unknown) => (log ?? consoleLogger).error({ err, loop: name }, `${name}: background task failed`));
}

const consoleLogger: GuardLogger = {
  error: (obj) => {
    const o = obj as { err?: unknown; loop?: string };
    process.stderr.write(`${o.loop ?? 'loop'}: ${o.err instanceof Error ? (o.err.stack ?? o.err.message) : String(o.err)}\n`);
  },
};
