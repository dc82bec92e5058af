/**
 * The task IDs under one key of a task index: one ID as the string itself, two or more as a Set.
 * A replicated slot nearly always holds one task (its history is a few at most), so a Set for each
 * one (≈ 150 B) would be most of what the slot index costs (issue 15).
 */
export type TaskIds = string | ReadonlySet<string>;

const NONE: readonly string[] = [];

/** The IDs of `ids`, for iteration (a key without tasks: none). */
export function eachId(ids: TaskIds | undefined): Iterable<string> {
  if (ids === undefined) return NONE;
  return typeof ids === 'string' ? [ids] : ids;
}

export function holdsId(ids: TaskIds | undefined, id: string): boolean {
  return typeof ids === 'string' ? ids === id : ids !== undefined && ids.has(id);
}

/**
 * Task IDs by key (a service, a node, a slot number), as a `Map<K, Set<string>>` would hold them but
 * smaller: a key holding one task keeps its ID alone, and a key goes as soon as its last task does, so
 * what services, nodes and slots left behind costs nothing (empty Sets kept forever were ≈ 20 MiB after
 * scaling 100,000 tasks to 0). The order of a key's IDs is a Set's: the order they were added in.
 */
export class TaskIndex<K> {
  private byKey = new Map<K, string | Set<string>>();

  /** How many keys hold at least one task. */
  get keyCount(): number {
    return this.byKey.size;
  }

  get(key: K): TaskIds | undefined {
    return this.byKey.get(key);
  }

  /**
   * Task `id` moves from key `from` to key `to` (undefined: none, so a move from none adds and one to
   * none deletes). A move to the key it is under changes nothing: not even its place in the key's order.
   */
  move(id: string, from: K | undefined, to: K | undefined): void {
    if (from === to) return;
    if (from !== undefined) this.delete(from, id);
    if (to !== undefined) this.add(to, id);
  }

  add(key: K, id: string): void {
    const ids = this.byKey.get(key);
    if (ids === undefined) this.byKey.set(key, id);
    else if (typeof ids !== 'string') ids.add(id);
    else if (ids !== id) this.byKey.set(key, new Set([ids, id]));
  }

  delete(key: K, id: string): void {
    const ids = this.byKey.get(key);
    if (ids === undefined) return;
    if (typeof ids === 'string') {
      if (ids === id) this.byKey.delete(key);
      return;
    }
    ids.delete(id);
    // back to a single ID: the slot whose history the reaper cut down to its one task again
    if (ids.size === 1) this.byKey.set(key, ids.values().next().value as string);
  }

  clear(): void {
    this.byKey.clear();
  }
}
