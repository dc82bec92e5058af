import { invalidArgument } from '../../lib/errors';

// Query-string helpers with Docker's semantics.

/** Docker's boolean query values: "", "0", "no", "false", "none" are false; anything else is true. */
export function boolValue(v: string | null | undefined): boolean {
  if (v === null || v === undefined) return false;
  const s = v.trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** A required `version=` object version (uint64 in Docker). `what` names the object kind for the error. */
export function parseObjectVersion(v: string | null | undefined, what: string): number {
  const raw = v ?? '';
  if (!/^\d+$/.test(raw)) {
    throw invalidArgument(`invalid ${what} version '${raw}': strconv.ParseUint: parsing "${raw}": invalid syntax`);
  }
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`invalid ${what} version '${raw}': value out of range`);
  return n;
}

/** `tail`: an integer or "all"; anything negative or unparsable means all (as the CLI documents). */
export function parseTail(v: string | null | undefined): number | 'all' {
  if (v === null || v === undefined || v === '' || v === 'all') return 'all';
  if (!/^-?\d+$/.test(v.trim())) return 'all';
  const n = Number(v.trim());
  return n < 0 ? 'all' : n;
}

/**
 * `since` / `until` as clients send them: a UNIX timestamp in seconds, optionally with a fraction
 * ("1629574695.515050031"). Returns seconds (fractional), or undefined when absent or zero.
 */
export function parseTimestamp(v: string | null | undefined, name: string): number | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const s = v.trim();
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw invalidArgument(`invalid value for ${name}: ${v}`);
  const n = Number(s);
  return n === 0 ? undefined : n;
}
