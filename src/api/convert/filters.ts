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

/** A filter key's value check: the error text for a value dockerd refuses, else undefined. */
type ValueCheck = (v: string) => string | undefined;

const oneOf =
  (what: string, values: readonly string[]): ValueCheck =>
  (v) =>
    v === '' || values.includes(v.toLowerCase()) ? undefined : `Invalid ${what} filter: '${v}'`;

const TASK_STATES = ['new', 'pending', 'allocated', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running', 'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned'];

/**
 * The filter keys each list endpoint accepts, with dockerd's value checks (daemon/cluster/filters.go:
 * values of enum-like keys match case-insensitively, as swarmkit's names upper-cased).
 */
export const ACCEPTED_FILTERS = {
  services: { id: null, name: null, label: null, mode: null, runtime: null },
  tasks: {
    id: null,
    name: null,
    label: null,
    service: null,
    node: null,
    'desired-state': oneOf('desired-state', TASK_STATES),
    '_up-to-date': null,
    runtime: null,
  },
  nodes: { id: null, name: null, label: null, role: oneOf('role', ['worker', 'manager']), membership: oneOf('membership', ['pending', 'accepted']), 'node.label': null },
} satisfies Record<string, Record<string, ValueCheck | null>>;

/** Docker's filters.Validate plus the endpoint's value checks: 400 `invalid filter 'bogus'`. */
/** The filters `GET /secrets` and `GET /configs` accept (moby's newListSecretsFilters / newListConfigsFilters). */
export const SECRET_LIST_FILTERS = { id: null, label: null, name: null, names: null };

export function checkFilters(f: FilterMap, accepted: Record<string, ValueCheck | null>): FilterMap {
  for (const [key, values] of Object.entries(f)) {
    if (!Object.prototype.hasOwnProperty.call(accepted, key)) throw invalidArgument(`invalid filter '${key}'`);
    const check = accepted[key];
    if (!check) continue;
    for (const v of values) {
      const err = check(v);
      if (err) throw invalidArgument(err);
    }
  }
  return f;
}
