// When a manager snapshots its store and how much log it keeps behind the snapshot. Docker counts entries
// only (SnapshotInterval, LogEntriesForSlowFollowers); Shoal's entries carry up to 500 task changes each,
// so a count alone lets the log in memory grow to gigabytes at 100,000 tasks (issue 15: 235 MiB of log
// and no snapshot yet after one 100,000-replica create). Bytes bound it too, in proportion to the state:
// the log may grow to the size of the last snapshot (at least LOG_BYTES_FLOOR) before the next one, so
// snapshot work stays at most the log work it replaces and memory stays within twice the state.

/** Log bytes a snapshot may trail by before the state's own size takes over as the bound. */
export const LOG_BYTES_FLOOR = 64 * 1024 * 1024;
/** Bytes of entries kept behind a snapshot for slow followers, at most (one further behind gets the snapshot). */
export const KEEP_BYTES = 16 * 1024 * 1024;

export interface SinceSnapshot {
  /** Entries applied since the last snapshot. */
  entries: number;
  /** Their data's bytes. */
  bytes: number;
  /** Bytes of the last snapshot's payload (0: none yet). */
  lastSnapshotBytes: number;
}

/** Is a snapshot due: SnapshotInterval entries, or more log bytes than the state they would be replaced by. */
export function snapshotDue(since: SinceSnapshot, snapshotInterval: number): boolean {
  return since.entries >= snapshotInterval || since.bytes >= Math.max(LOG_BYTES_FLOOR, since.lastSnapshotBytes);
}

/**
 * The index to compact the log to after a snapshot at `index`: keep the last `keepEntries` entries
 * (LogEntriesForSlowFollowers), but no more of them than KEEP_BYTES. `sizeOf(i)` is entry i's data size
 * (undefined once before the log's start).
 */
export function compactionPoint(index: number, keepEntries: number, sizeOf: (i: number) => number | undefined, keepBytes = KEEP_BYTES): number {
  let kept = 0;
  let bytes = 0;
  let i = index;
  while (kept < keepEntries && i > 0) {
    const size = sizeOf(i);
    if (size === undefined || bytes + size > keepBytes) break;
    bytes += size;
    kept++;
    i--;
  }
  return Math.max(0, index - kept);
}
