// When a batch of reports or changes goes out (the agent's status reports, the dispatcher's store writes
// and assignment messages). A fixed delay after the first item of a batch made every lone report (a task
// that failed, a scale-down's stops) wait for it; a batch that waits only while the previous one is recent
// keeps the same bound on how often batches go out under load, and adds no delay when things are quiet.

/**
 * How long (ms) to hold a batch whose first item just arrived: 0 (go out on the next turn of the event
 * loop, together with whatever else arrives in this one) when the last batch went out at least `batchMs`
 * ago or never, else the rest of `batchMs` since it. So at most one batch per `batchMs`, and none waits
 * longer than `batchMs` (also when the clock steps back).
 */
export function batchDelay(now: number, lastSentAt: number | undefined, batchMs: number): number {
  if (lastSentAt === undefined) return 0;
  return Math.max(0, Math.min(batchMs, lastSentAt + batchMs - now));
}
