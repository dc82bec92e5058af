// The Raft data encryption key (DEK) of one manager, as swarmkit's RaftDEKManager keeps it: a random
// AES-256 key that seals every log entry and snapshot this manager writes. It lives in one file beside
// the node's TLS key (`<data-dir>/certificates/swarm-raft.dek`, 0600): plain JSON when autolock is off
// (like swarmkit's unencrypted PEM header), sealed under the unlock key (KEK) when it is on.
//
// Rotation keeps reading possible at every moment: `rotate()` makes a new key current (new entries and
// the next snapshot use it) and keeps the previous keys for reading until the storage has re-sealed
// everything still on disk under the new one (`finishRotation()`: after the snapshot is written and the
// remaining entries re-sealed), so a crash at any point leaves a file that opens everything on disk.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSealed, keyLookup, newDataKey, open, seal, SealedDataError, type DataKey, type KeyLookup } from '../../sys/aead';
import { writeFileDurable, writeFileDurableSync } from '../../sys/durable-file';

/** The file the manager keeps its DEK in, beside the node's TLS key. */
export const RAFT_DEK_FILE = 'swarm-raft.dek';

/** What the Raft storage needs from its keys. */
export interface RaftKeys {
  /** The key new entries and snapshots are sealed with. */
  current(): DataKey;
  /** Every key something on disk may still be sealed with. */
  readonly lookup: KeyLookup;
  /** True between rotate() and finishRotation(): older keys still open data on disk. */
  readonly rotating: boolean;
  /** Makes a new key current once the file naming it (and the old ones) is durable; the old ones stay readable until finishRotation(). */
  rotate(): Promise<void>;
  /** Drops every key but the current one (everything on disk is sealed with it now). */
  finishRotation(): Promise<void>;
}

/** The file is sealed under an unlock key and none (or another) was given. */
export class DekLockedError extends Error {
  constructor(readonly reason: 'locked' | 'invalid-key') {
    super(reason === 'locked' ? 'raft DEK is encrypted with the unlock key' : 'the unlock key does not decrypt the raft DEK');
    this.name = 'DekLockedError';
  }
}

interface DekFileJson {
  version: 1;
  current: { id: string; key: string };
  /** Keys data on disk may still be sealed with (rotation in progress). */
  previous: { id: string; key: string }[];
}

const KEK_ID = 'swarm-kek';
const toJson = (k: DataKey) => ({ id: k.id, key: k.key.toString('base64') });
const fromJson = (k: { id: string; key: string }): DataKey => ({ id: k.id, key: Buffer.from(k.key, 'base64') });

export class RaftDekFile implements RaftKeys {
  private cur: DataKey;
  private prev: DataKey[];

  private constructor(
    readonly file: string,
    private kekBytes: Buffer | undefined,
    j: DekFileJson,
  ) {
    this.cur = fromJson(j.current);
    this.prev = j.previous.map(fromJson);
  }

  /** Loads the file (opening it with `kek` when sealed), or creates a new key when there is none. */
  static open(file: string, kek?: Buffer): RaftDekFile {
    let raw: Buffer | undefined;
    try {
      raw = fs.readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (!raw) {
      const d = new RaftDekFile(file, kek, { version: 1, current: toJson(newDataKey()), previous: [] });
      d.save();
      return d;
    }
    let text: string;
    if (isSealed(raw)) {
      if (!kek) throw new DekLockedError('locked');
      try {
        text = open(keyLookup({ id: KEK_ID, key: kek }), raw).toString('utf8');
      } catch (e) {
        if (e instanceof SealedDataError) throw new DekLockedError('invalid-key');
        throw e;
      }
    } else {
      text = raw.toString('utf8');
      kek = undefined; // plain on disk: sealed only once setKek() says so
    }
    return new RaftDekFile(file, kek, JSON.parse(text) as DekFileJson);
  }

  /** True when the file on disk is sealed under an unlock key (the manager starts locked). */
  static isLocked(file: string): boolean {
    try {
      return isSealed(fs.readFileSync(file));
    } catch {
      return false;
    }
  }

  current(): DataKey {
    return this.cur;
  }

  readonly lookup: KeyLookup = (id) => (id === this.cur.id ? this.cur.key : this.prev.find((k) => k.id === id)?.key);

  get rotating(): boolean {
    return this.prev.length > 0;
  }

  /**
   * A new current key, used from the moment the file naming it and the old ones is durable (an entry
   * sealed with it never reaches the disk before the key does). Writes of the file are asynchronous
   * (a manager's event loop keeps its heartbeats) and serialized.
   */
  async rotate(): Promise<void> {
    const next = newDataKey();
    const prev = [this.cur, ...this.prev];
    await this.write(next, prev, this.kekBytes);
    this.cur = next;
    this.prev = prev;
  }

  async finishRotation(): Promise<void> {
    if (this.prev.length === 0) return;
    this.prev = [];
    await this.write(this.cur, [], this.kekBytes);
  }

  /** The unlock key the file is sealed under (undefined: plain). */
  get kek(): Buffer | undefined {
    return this.kekBytes;
  }

  /** Re-writes the file sealed under `kek` (autolock on) or plain (off). */
  async setKek(kek: Buffer | undefined): Promise<void> {
    this.kekBytes = kek;
    await this.write(this.cur, this.prev, kek);
  }

  private writes: Promise<void> = Promise.resolve();

  private bytes(cur: DataKey, prev: DataKey[], kek: Buffer | undefined): Buffer {
    const text = Buffer.from(JSON.stringify({ version: 1, current: toJson(cur), previous: prev.map(toJson) } satisfies DekFileJson), 'utf8');
    return kek ? seal({ id: KEK_ID, key: kek }, text) : text;
  }

  private write(cur: DataKey, prev: DataKey[], kek: Buffer | undefined): Promise<void> {
    const data = this.bytes(cur, prev, kek);
    const done = this.writes.then(() => writeFileDurable(this.file, data, { mode: 0o600 }));
    this.writes = done.catch(() => undefined);
    return done;
  }

  private save(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileDurableSync(this.file, this.bytes(this.cur, this.prev, this.kekBytes), { mode: 0o600 });
  }
}
