import { invalidArgument } from '../../lib/errors';

// Engine API `filters` query parameter. Two encodings exist: the current one
// `{"name":{"web":true}}` and the legacy `{"name":["web"]}`; both normalize to `{name:["web"]}`.
// Same shape as `Filters` in ../backend.ts (kept structural: convert/ may import only pure modules).
export type FilterMap = Record<string, string[]>;

export function parseFilters(raw: string | null | undefined): FilterMap {
  if (raw === null || raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw invalidArgument(`invalid filter: ${(e as Error).message}`);
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidArgument(`invalid filter: expected an object, got ${raw}`);
  const out: FilterMap = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(value)) {
      if (!value.every((v) => typeof v === 'string')) throw invalidArgument(`invalid filter '${key}': values must be strings`);
      out[key] = [...(value as string[])];
    } else if (value !== null && typeof value === 'object') {
      // Docker keeps every key of the inner map whatever its boolean says.
      out[key] = Object.keys(value as Record<string, unknown>);
    } else if (value === null) {
      out[key] = [];
    } else {
      throw invalidArgument(`invalid filter '${key}': expected a map or a list of values`);
    }
  }
  return out;
}

/** The current encoding, for forwarding filters to an engine. */
export function encodeFilters(f: FilterMap): string {
  const o: Record<string, Record<string, boolean>> = {};
  for (const [k, vs] of Object.entries(f)) {
    o[k] = {};
    for (const v of vs) o[k][v] = true;
  }
  return JSON.stringify(o);
}
