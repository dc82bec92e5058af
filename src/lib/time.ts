// Go's time.Duration is nanoseconds; the Engine API carries durations as integer nanoseconds.
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;

export const msToNs = (ms: number): number => Math.round(ms * NS_PER_MS);
export const nsToMs = (ns: number): number => ns / NS_PER_MS;

/** The largest time a Date holds, in milliseconds either side of the epoch. */
const MAX_DATE_MS = 8.64e15;

/** The second isoTime formatted last, and its text up to the seconds ("YYYY-MM-DDTHH:MM:SS"). */
let memoSecond = Number.NaN;
let memoPrefix = '';

/** RFC 3339 with nanosecond precision as Go prints it, from milliseconds since the epoch. */
export function isoTime(ms: number): string {
  // Every task status carries one, so an agent running thousands of tasks formats many a second: the
  // date and time of the second are formatted once (a Date and toISOString cost more than the rest),
  // the milliseconds appended. Date keeps whole milliseconds, truncated toward zero.
  const t = Math.trunc(ms);
  if (!(Math.abs(t) <= MAX_DATE_MS)) return new Date(ms).toISOString(); // NaN, out of range: RangeError as Date throws it
  const second = Math.floor(t / 1000);
  if (second !== memoSecond) {
    memoPrefix = new Date(second * 1000).toISOString().slice(0, -5);
    memoSecond = second;
  }
  const milli = t - second * 1000;
  return `${memoPrefix}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}000000Z`;
}

/** Go's zero time as Docker prints it for unset timestamps. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
