// What applying a new ingress table changes on a node: which listeners open, which close, which keep running with
// a new backend set. Pure, so the mesh's `apply` is idempotent by construction: the same table twice is no change.
import { portKey, type PortKey, type PublishedPortTable } from './types';

export interface TableDiff {
  /** Ports published now and not before: open a listener. */
  open: PublishedPortTable[];
  /** Ports no longer published: close the listener (its open connections end with it). */
  close: PortKey[];
  /** Ports kept whose backends or PROXY protocol setting changed: swap live, listener and connections untouched. */
  update: PublishedPortTable[];
}

/** The table normalised: one entry per (protocol, port) — the last one wins, as a later write would. */
export function indexTable(tables: readonly PublishedPortTable[]): Map<PortKey, PublishedPortTable> {
  const out = new Map<PortKey, PublishedPortTable>();
  for (const t of tables) out.set(portKey(t), t);
  return out;
}

function sameBackends(a: PublishedPortTable, b: PublishedPortTable): boolean {
  if (a.backends.length !== b.backends.length) return false;
  const key = (x: { id: string; host: string; port: number }) => `${x.id}@${x.host}:${x.port}`;
  const as = new Set(a.backends.map(key));
  return b.backends.every((x) => as.has(key(x)));
}

export function diffTables(current: ReadonlyMap<PortKey, PublishedPortTable>, next: readonly PublishedPortTable[]): TableDiff {
  const want = indexTable(next);
  const diff: TableDiff = { open: [], close: [], update: [] };
  for (const k of current.keys()) if (!want.has(k)) diff.close.push(k);
  for (const [k, t] of want) {
    const cur = current.get(k);
    if (!cur) diff.open.push(t);
    else if (cur.proxyProtocol !== t.proxyProtocol || !sameBackends(cur, t)) diff.update.push(t);
  }
  return diff;
}
