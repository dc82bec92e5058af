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
  for (const k of Object.keys(v)) o[k] = cloneData((v as Record<string, unknown>)[k]);
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
