// Go's time.Duration is nanoseconds; the Engine API carries durations as integer nanoseconds.
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;

export const msToNs = (ms: number): number => Math.round(ms * NS_PER_MS);
export const nsToMs = (ns: number): number => ns / NS_PER_MS;

/** RFC 3339 with nanosecond precision as Go prints it, from milliseconds since the epoch. */
export function isoTime(ms: number): string {
  // toISOString always ends in ".sssZ"; a slice, not a regular expression (every task status carries one)
  return new Date(ms).toISOString().slice(0, -1) + '000000Z';
}

/** Go's zero time as Docker prints it for unset timestamps. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
