// The mesh's choice of backend for a new connection (or UDP flow): least active connections, ties broken round
// robin from a cursor (or by an injected random), so the choice is a function of its inputs and replays exactly.
import type { Rng } from '../../../lib/ports';
import type { MeshBackend } from './types';

export interface BalancerOptions {
  /** Break ties among the least-loaded backends at random instead of round robin. */
  rng?: Pick<Rng, 'next'>;
}

/**
 * Backends of one published port with their active connection counts. Counts are kept by backend ID and outlive the
 * backend's removal until its last connection ends: a removed backend keeps the connections it has (they are never
 * cut) but is never picked again.
 */
export class Balancer {
  private backends: MeshBackend[] = [];
  private readonly active = new Map<string, number>();
  /** Index in `backends` where the round-robin scan for the next tie starts. */
  private cursor = 0;

  constructor(private readonly opts: BalancerOptions = {}) {}

  /** Replace the ready set. Returns the IDs added and removed (by ID; a changed address counts as neither). */
  setBackends(next: readonly MeshBackend[]): { added: string[]; removed: string[] } {
    const before = new Set(this.backends.map((b) => b.id));
    const seen = new Set<string>();
    const list: MeshBackend[] = [];
    for (const b of next) {
      if (seen.has(b.id)) continue; // one entry per task: a duplicate would double its share
      seen.add(b.id);
      list.push({ id: b.id, host: b.host, port: b.port });
    }
    const added = list.filter((b) => !before.has(b.id)).map((b) => b.id);
    const removed = [...before].filter((id) => !seen.has(id));
    this.backends = list;
    for (const id of removed) if (!this.active.get(id)) this.active.delete(id);
    if (this.cursor >= list.length) this.cursor = 0;
    return { added, removed };
  }

  list(): readonly MeshBackend[] {
    return this.backends;
  }

  /** Active connections by backend ID, removed backends with open connections included. */
  activeCounts(): ReadonlyMap<string, number> {
    return this.active;
  }

  /**
   * The backend for a new connection, skipping `exclude` (backends this connection already failed to reach), or
   * undefined when none is left. Does not count the connection: call `acquire` when it is made.
   */
  pick(exclude?: ReadonlySet<string>): MeshBackend | undefined {
    const n = this.backends.length;
    if (n === 0) return undefined;
    let least = Infinity;
    const ties: number[] = [];
    for (let k = 0; k < n; k++) {
      // scan from the cursor so that the first tie found is the round-robin successor
      const i = (this.cursor + k) % n;
      const b = this.backends[i];
      if (exclude?.has(b.id)) continue;
      const a = this.active.get(b.id) ?? 0;
      if (a < least) {
        least = a;
        ties.length = 0;
      }
      if (a === least) ties.push(i);
    }
    if (ties.length === 0) return undefined;
    const i = this.opts.rng ? ties[Math.min(ties.length - 1, Math.floor(this.opts.rng.next() * ties.length))] : ties[0];
    this.cursor = (i + 1) % n;
    return this.backends[i];
  }

  acquire(id: string): void {
    this.active.set(id, (this.active.get(id) ?? 0) + 1);
  }

  release(id: string): void {
    const a = (this.active.get(id) ?? 0) - 1;
    if (a > 0) this.active.set(id, a);
    else if (this.backends.some((b) => b.id === id)) this.active.set(id, 0);
    else this.active.delete(id);
  }
}
