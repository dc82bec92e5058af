// Engine API objects are stored with an `internal` field beside the Engine shape; it never leaves the daemon.

export function stripInternal<T extends object>(obj: T): Omit<T, 'internal'> {
  if (obj === null || typeof obj !== 'object' || !('internal' in obj)) return obj;
  const { internal: _internal, ...rest } = obj as T & { internal?: unknown };
  return rest;
}

export const stripAll = <T extends object>(list: T[]): Omit<T, 'internal'>[] => list.map((o) => stripInternal(o));
