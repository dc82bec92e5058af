// Runs an action once a stretch of `quietMs` has passed with no activity reported: the Ready loop's
// idle save of the commit index (ready-loop.ts saveCommitWhenIdle). A timer that fired a fixed time
// after the loop first went idle would land, under a steady stream of one-at-a-time writes, in the
// short gap between two of them every `quietMs` — an fsync no write needed (the next write carries the
// commit index) that the next commit then waits behind.

export class QuietTimer {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private activity = 0;
  private seen = 0;

  constructor(
    private readonly quietMs: number,
    /** Called once per arm(), after `quietMs` without activity(). */
    private readonly fire: () => void,
  ) {}

  get armed(): boolean {
    return this.timer !== null;
  }

  /** Something happened: an armed timer waits for `quietMs` more from its deadline on. */
  touch(): void {
    this.activity++;
  }

  /** Starts waiting for quiet, unless already waiting. */
  arm(): void {
    if (this.timer) return;
    this.seen = this.activity;
    this.timer = setTimeout(() => this.expired(), this.quietMs);
    this.timer.unref?.();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private expired(): void {
    this.timer = null;
    // active meanwhile: wait another stretch (one timer per stretch, not one per touch)
    if (this.activity !== this.seen) return this.arm();
    this.fire();
  }
}
