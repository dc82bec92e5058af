// How much young generation the daemon lets V8 keep.
//
// V8 grows its young generation (the semi-spaces where objects are born) from 1 MiB up to 16 MiB a
// semi-space whenever many objects survive a scavenge, and gives it back only through its memory
// reducer, once allocation has almost stopped. Loading the daemon's code and answering `swarm init`
// is enough to grow it to 8 MiB a semi-space, so an idle manager held 16 MiB of young generation for
// 2 MiB of live young objects (performance.md, "A small young generation while quiet"). Under load the
// growth is worth having: with the young generation held at 1 MiB the leader spent a third more CPU a
// task creating 100,000 tasks on 1,000 nodes. So the daemon starts with growth held, lets V8 grow it
// as it would once the event loop is busy, and holds growth again after a long quiet spell (what V8
// already grew stays until its memory reducer shrinks it). Pure: samples come in with their time.

export type YoungGeneration = 'held' | 'growing';

export interface YoungGenerationSettings {
  /** A sample this busy (event-loop utilization, 0–1) lets the young generation grow. */
  growBusy: number;
  /** Below this a sample is quiet… */
  quietBusy: number;
  /** …and after this long of quiet samples growth is held again. */
  quietMs: number;
}

export const DEFAULT_YOUNG_GENERATION: YoungGenerationSettings = { growBusy: 0.2, quietBusy: 0.05, quietMs: 60_000 };

export class YoungGenerationPolicy {
  private state: YoungGeneration = 'held';
  private quietSince: number | undefined;

  constructor(private readonly settings: YoungGenerationSettings = DEFAULT_YOUNG_GENERATION) {}

  get mode(): YoungGeneration {
    return this.state;
  }

  /** One sample of the event loop's utilization since the last one; the new mode when it changes. */
  observe(atMs: number, busy: number): YoungGeneration | undefined {
    const s = this.settings;
    if (busy >= s.growBusy) {
      this.quietSince = undefined;
      if (this.state === 'held') return (this.state = 'growing');
      return undefined;
    }
    if (busy >= s.quietBusy) {
      this.quietSince = undefined;
      return undefined;
    }
    this.quietSince ??= atMs;
    if (this.state === 'growing' && atMs - this.quietSince >= s.quietMs) return (this.state = 'held');
    return undefined;
  }
}
