import { open, type RootDatabase } from 'lmdb';
import path from 'node:path';
import type { Change, MemoryStore, Proposer, StoreSnapshot } from '../../store';

/**
 * The durable log of a manager that is not (yet) replicating: every committed change list is
 * written to lmdb before it is applied, and a snapshot replaces the log every `snapshotInterval`
 * entries. A restart replays snapshot + log into the store. The Raft driver keeps the same
 * on-disk shape (entries by index, snapshot) so a single manager can later grow into a group.
 */
export class LocalLog implements Proposer {
  private db: RootDatabase;
  private last = 0;
  private snapshotIndex = 0;

  constructor(
    dir: string,
    private store: MemoryStore,
    private snapshotInterval = 10_000,
  ) {
    this.db = open({ path: path.join(dir, 'log.lmdb'), compression: false });
  }

  /** Loads the snapshot and replays the log into the store. */
  load(): void {
    const snap = this.db.get('snapshot') as StoreSnapshot | undefined;
    if (snap) {
      this.store.restore(snap);
      this.snapshotIndex = snap.index;
      this.last = snap.index;
    }
    for (const { key, value } of this.db.getRange({ start: entryKey(this.snapshotIndex + 1), end: 'e;' })) {
      const index = Number(String(key).slice(2));
      this.store.applyCommitted(index, value as Change[]);
      this.last = index;
    }
  }

  async propose(changes: Change[]): Promise<void> {
    const index = this.last + 1;
    this.last = index;
    await this.db.put(entryKey(index), changes);
    this.store.applyCommitted(index, changes);
    if (index - this.snapshotIndex >= this.snapshotInterval) await this.compact();
  }

  private async compact(): Promise<void> {
    const snap = this.store.snapshot();
    await this.db.transaction(() => {
      this.db.put('snapshot', snap);
      for (const key of this.db.getKeys({ start: 'e:', end: entryKey(snap.index + 1) })) this.db.remove(key);
    });
    this.snapshotIndex = snap.index;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

// Zero-padded so lexical order is numeric order.
const entryKey = (i: number): string => `e:${String(i).padStart(16, '0')}`;
