// Copies and freezes of plain JSON-shaped data (stored objects, tasks on an agent): read far more often than written.

/**
 * Deep copy of a stored object. Store objects are plain JSON-shaped data (objects, arrays, strings,
 * numbers, booleans, null; `undefined` members are kept as they are), so a direct recursive copy does
 * the job several times faster than `structuredClone`, which matters because every read hands out copies.
 */
export function cloneData<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const a = new Array(v.length);
    for (let i = 0; i < v.length; i++) a[i] = cloneData(v[i]);
    return a as T;
  }
  if (ArrayBuffer.isView(v) || !isPlainObject(v)) return structuredClone(v);
  const o: Record<string, unknown> = {};
  // for-in, not Object.keys: no array of keys per object (a plain object inherits no enumerable member)
  for (const k in v) o[k] = cloneData((v as Record<string, unknown>)[k]);
  return o as T;
}

/**
 * The copy of `next` a store keeps as a new version of an object whose current version is `current`
 * (undefined: a new object). A part of `next` that is the very object `current` holds there is kept, not
 * copied: a store's own objects are never changed (a commit replaces them whole), so a copy of it was
 * only garbage, and the commit's comparisons (CommittedTasks.share) find it equal at once. A status
 * report or a placement of a task changes its status, not its spec. Other parts are copied once per
 * `copies` (one write transaction): the tasks a reconcile pass makes from one template share one copy.
 */
export function storedVersion<T extends object>(next: T, current: T | undefined, copies: Map<object, unknown>): T {
  const o: Record<string, unknown> = {};
  const was = current as Record<string, unknown> | undefined;
  for (const k in next) {
    const v = (next as Record<string, unknown>)[k];
    if (v === null || typeof v !== 'object' || (was !== undefined && was[k] === v)) {
      o[k] = v;
      continue;
    }
    let c = copies.get(v);
    if (c === undefined) copies.set(v, (c = cloneData(v)));
    o[k] = c;
  }
  return o as T;
}

/** Freezes a stored object and everything in it (tests and simulations: a reader that changes one throws). */
export function deepFreeze(v: unknown): void {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v) || ArrayBuffer.isView(v)) return;
  Object.freeze(v);
  for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
}

function isPlainObject(v: object): boolean {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}
