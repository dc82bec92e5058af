// When a stopping task has left every node's routing mesh (mesh.md "Drain"): the dispatcher numbers each ingress
// table it computes, every node acknowledges the number of the table its mesh applied (kernel map and conntrack
// included), and a task is drained once the table each connected node acknowledged has it no more. The agent of the
// task holds its stop until then (bounded by `--mesh-drain-ms`). Pure: versions, tables and acknowledgements come in.

/** Tables kept at most: a node whose acknowledged table was pruned holds tasks back until it acknowledges a newer one. */
export const MAX_TABLES = 256;

/** Ingress tables by version and the version each node's mesh applied last. */
export class MeshDrainBook {
  /** Version → task IDs that are backends of some published port in that table. */
  private readonly tables = new Map<number, ReadonlySet<string>>();
  private readonly acked = new Map<string, number>();
  private latest = -1;

  /** A new table; versions only grow. */
  record(version: number, backendTaskIds: Iterable<string>): void {
    this.tables.set(version, new Set(backendTaskIds));
    this.latest = Math.max(this.latest, version);
  }

  /** The node's mesh applied the table of `version` (an older acknowledgement arriving late changes nothing). */
  ack(nodeId: string, version: number): void {
    if (!this.tables.has(version)) return;
    const cur = this.acked.get(nodeId);
    if (cur === undefined || version > cur) this.acked.set(nodeId, version);
  }

  /** The node's session ended: it is not waited for (its next session acknowledges again). */
  forget(nodeId: string): void {
    this.acked.delete(nodeId);
  }

  /** The version `nodeId` acknowledged, if any. */
  ackedBy(nodeId: string): number | undefined {
    return this.acked.get(nodeId);
  }

  /**
   * Of `taskIds`, those that no node of `nodes` (the connected ones) has in the table its mesh applied. A node that
   * has acknowledged nothing yet holds every task back.
   */
  drained(taskIds: readonly string[], nodes: Iterable<string>): string[] {
    const applied: ReadonlySet<string>[] = [];
    for (const n of nodes) {
      const v = this.acked.get(n);
      const t = v === undefined ? undefined : this.tables.get(v);
      if (!t) return [];
      applied.push(t);
    }
    return taskIds.filter((id) => applied.every((t) => !t.has(id)));
  }

  /** Forgets tables no connected node can acknowledge any more (older than every node's last one), and gone nodes. */
  prune(nodes: Iterable<string>): void {
    const live = new Set(nodes);
    for (const n of [...this.acked.keys()]) if (!live.has(n)) this.acked.delete(n);
    let keepFrom = this.latest;
    for (const n of live) keepFrom = Math.min(keepFrom, this.acked.get(n) ?? -Infinity);
    // a node that never acknowledges (an older daemon) must not make the book grow without end
    keepFrom = Math.max(keepFrom, this.latest - MAX_TABLES + 1);
    for (const v of [...this.tables.keys()]) if (v < keepFrom) this.tables.delete(v);
  }

  /** Tables kept (for tests and diagnostics). */
  size(): number {
    return this.tables.size;
  }
}
