// How far V8's old generation may grow past what its last full collection kept before it collects again.
//
// V8 picks that factor after each full collection: between 1.1 and a cap, by how fast it collects against
// how fast the program allocates. On a machine with more than about 16 GiB the cap is 4, and a burst (a
// 100,000-task create, a new leader's first scale-down) allocates fast enough to reach it: a leader with
// 150 MiB live then holds up to 600 MiB of old generation before it collects, most of it garbage. Go's
// collector, which Swarm's managers run on, lets the heap grow to 2× at its default (GOGC=100).
//
// A fixed smaller factor costs collections, and what they cost depends on the heap's size: with ≈ 30 MiB
// live, as each of the Raft bench's members holds, 1.5× took a quarter off its commit throughput (three
// times the full collections); with 150 MiB live, the scale bench's leader, it took 10–20 % more CPU a task
// during the create and ≈ 70 MiB off the peak. A small heap's slack is small in MiB, so V8's own factor
// stays until what a full collection keeps reaches `fromBytes`; from there on the old generation grows
// to at most 1 + `percent`/100 times it (performance.md, "The old generation's growth"). Pure.

export interface HeapGrowthSettings {
  /** The growth once the heap is large, in percent of what a full collection kept (50: 1.5×); 0 leaves V8's own always. */
  percent: number;
  /** What a full collection must keep (the old generation's live bytes) before `percent` applies. */
  fromBytes: number;
}

const MiB = 1024 * 1024;

export const HEAP_GROWTH_FROM_BYTES = 64 * MiB;

/** The growth for the next collections after a full collection kept `liveBytes`: 0 for V8's own factor. */
export function heapGrowthPercent(liveBytes: number, s: HeapGrowthSettings): number {
  return s.percent > 0 && liveBytes >= s.fromBytes ? s.percent : 0;
}
