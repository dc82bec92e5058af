// A manager's Raft snapshot files, `<dir>/<index>-<term>.snap` (zero padded, so names sort by index). A file
// is a header line (a magic, then the metadata and the size of what follows as JSON) and the payload, sealed
// with the manager's DEK (sys/aead: the index and term bound in as authenticated data) unless the storage is
// the bench's plain baseline. Files are written durably (sys/durable-file: temp, fsync, rename, fsync of the
// directory), one at a time in order; the log's latest SNAPSHOT record (storage.ts) names the current one.
import fs from 'node:fs';
import path from 'node:path';
import type { ConfState, Snapshot, SnapshotMetadata } from '../../raft';
import { internal } from '../../lib/errors';
import { writeFileDurable, writeFileDurableSync } from '../../sys/durable-file';
import { open as openSealed, sealParts, sealer } from '../../sys/aead';
import type { RaftKeys } from './dek';

/** Plain snapshot (releases before encryption at rest): read for the upgrade, never written. */
const MAGIC_PLAIN = 'SHOALSNAP1\n';
/** Snapshot whose payload is sealed with the DEK. */
const MAGIC = 'SHOALSNAP2\n';

const snapshotContext = (index: number, term: number) => Buffer.from(`raft-snapshot:${index}:${term}`, 'latin1');
const pad = (n: number) => String(n).padStart(16, '0');
export const snapshotFileName = (index: number, term: number) => `${pad(index)}-${pad(term)}.snap`;

/** Width the size in a snapshot's header line is padded to: the line keeps its length when the size is written last. */
const SIZE_WIDTH = 16;

/**
 * A snapshot file's header line: the magic, then `{index, term, confState, size}` as JSON, `size` (the bytes
 * after the line) padded with spaces, which JSON allows, so that a file written in pieces can have it filled
 * in at the end. Files written before the padding read the same.
 */
function snapshotHeader(sealed: boolean, m: SnapshotMetadata, size: number): Buffer {
  const meta = JSON.stringify({ index: m.index, term: m.term, confState: m.confState });
  return Buffer.from(`${sealed ? MAGIC : MAGIC_PLAIN}${meta.slice(0, -1)},"size":${String(size).padEnd(SIZE_WIDTH)}}\n`, 'utf8');
}

export class SnapshotFiles {
  /** Files kept besides the current one (Docker's KeepOldSnapshots, `swarm update --max-snapshots`). */
  keepOld = 0;
  /** Writes in flight, in order (a re-seal waits for them). */
  private writes: Promise<void> = Promise.resolve();

  /** `keys`: the DEK, read at each write (null: the plain baseline). */
  constructor(
    readonly dir: string,
    private readonly keys: () => RaftKeys | null,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** The snapshot files, oldest first. */
  names(): string[] {
    return fs.readdirSync(this.dir).filter((f) => f.endsWith('.snap')).sort();
  }

  /**
   * Writes the file of `metadata` (durably, after the writes before it) from its payload, whole or as the makers of
   * its text's pieces (codec.ts, snapshotPayloadText): each piece is made, encoded into one reused buffer, sealed and
   * written within one synchronous step (sys/durable-file, MadePieces), the header's size and the seal's tag written
   * last, so a snapshot of 100,000 tasks is never whole in memory and leaves no piece for a full collection to free.
   * Resolves with the payload's size once the file is durable; leaves no file if making a piece fails.
   */
  write(metadata: SnapshotMetadata, payload: Uint8Array | readonly (() => string)[]): Promise<number> {
    const { index, term } = metadata;
    const keys = this.keys();
    const seal = keys ? sealer(keys.current(), snapshotContext(index, term)) : undefined;
    const head = snapshotHeader(!!seal, metadata, 0);
    let plainBytes = 0;
    let bodyBytes = 0;
    const text = new TextPieces();
    const body = (plain: Uint8Array): Uint8Array => {
      plainBytes += plain.byteLength;
      const out = seal ? seal.update(plain) : plain;
      bodyBytes += out.byteLength;
      return out;
    };
    const made: (() => Uint8Array)[] = [() => head];
    if (seal) {
      bodyBytes += seal.front.length;
      made.push(() => seal.front);
    }
    if (payload instanceof Uint8Array) made.push(() => body(payload));
    else for (const piece of payload) made.push(() => body(text.encode(piece())));
    const patches = () => [{ at: 0, bytes: snapshotHeader(!!seal, metadata, bodyBytes) }, ...(seal ? [{ at: head.length, bytes: seal.finish() }] : [])];
    const file = path.join(this.dir, snapshotFileName(index, term));
    const done = this.writes.then(() => writeFileDurable(file, { made }, { mode: 0o600, patches }));
    this.writes = done.catch(() => undefined);
    return done.then(() => plainBytes);
  }

  read(index: number, term: number): Snapshot {
    const file = path.join(this.dir, snapshotFileName(index, term));
    const buf = fs.readFileSync(file);
    const magicLen = Buffer.byteLength(MAGIC);
    const magic = buf.subarray(0, magicLen).toString('utf8');
    if (magic !== MAGIC && magic !== MAGIC_PLAIN) throw internal(`raft: ${file} is not a snapshot`);
    const nl = buf.indexOf(0x0a, magicLen);
    const h = JSON.parse(buf.subarray(magicLen, nl).toString('utf8')) as { index: number; term: number; confState: ConfState; size: number };
    const body = buf.subarray(nl + 1);
    if (h.index !== index || h.term !== term || body.length !== h.size) throw internal(`raft: snapshot ${file} is damaged`);
    let data: Buffer = body;
    if (magic === MAGIC) {
      const keys = this.keys();
      if (!keys) throw internal(`raft: snapshot ${file} is encrypted and this storage has no key`);
      data = openSealed(keys.lookup, body, snapshotContext(index, term));
    }
    return { metadata: { index, term, confState: h.confState }, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  }

  /** Every file written again under the current key, after the writes queued before it (a DEK rotation). */
  rewrite(): Promise<void> {
    const done = this.writes.then(async () => {
      for (const { file, snap } of this.each()) await writeFileDurable(file, this.fileBytes(snap), { mode: 0o600 });
    });
    this.writes = done.catch(() => undefined);
    return done;
  }

  /** The same, synchronously: at load (a rotation a crash interrupted) and in the upgrade from plain text. */
  rewriteSync(): void {
    for (const { file, snap } of this.each()) writeFileDurableSync(file, this.fileBytes(snap), { mode: 0o600 });
  }

  /** True when a file is in plain text (a release before encryption at rest wrote it). */
  anyPlain(): boolean {
    return this.names().some((f) => {
      const fd = fs.openSync(path.join(this.dir, f), 'r');
      try {
        const head = Buffer.alloc(MAGIC_PLAIN.length);
        fs.readSync(fd, head, 0, head.length, 0);
        return head.toString('utf8') === MAGIC_PLAIN;
      } finally {
        fs.closeSync(fd);
      }
    });
  }

  /**
   * Keeps `current` (the one the log points at; '' for none) and the newest `keepOld` files before it.
   * Anything else goes: older ones, a newer one the log never pointed at (a crash between the file and the
   * pointer), temp files.
   */
  prune(current: string): void {
    const files = fs.readdirSync(this.dir);
    const older = files.filter((f) => f.endsWith('.snap') && current !== '' && f < current).sort();
    const keep = new Set([current, ...older.slice(Math.max(0, older.length - this.keepOld))]);
    for (const f of files) if (!keep.has(f)) fs.rmSync(path.join(this.dir, f), { force: true });
  }

  /** Each file with its snapshot read, named by its file name. */
  private *each(): Iterable<{ file: string; snap: Snapshot }> {
    for (const f of this.names()) {
      const m = /^(\d+)-(\d+)\.snap$/.exec(f);
      const file = path.join(this.dir, f);
      if (!m || !fs.existsSync(file)) continue;
      yield { file, snap: this.read(Number(m[1]), Number(m[2])) };
    }
  }

  /** A whole snapshot's file: header line and payload, sealed unless the storage is the plain baseline. */
  private fileBytes(snap: Snapshot): Buffer[] {
    const { index, term } = snap.metadata;
    const plain = Buffer.from(snap.data.buffer, snap.data.byteOffset, snap.data.byteLength);
    const keys = this.keys();
    const body = keys ? sealParts(keys.current(), plain, snapshotContext(index, term)) : [plain];
    return [snapshotHeader(!!keys, snap.metadata, body.reduce((n, b) => n + b.length, 0)), ...body];
  }
}

/**
 * UTF-8 encodings of text pieces into one buffer, grown as needed and reused: what `encode` returns is valid until its
 * next call (a made piece is written before the next is made), so a snapshot's pieces allocate no array buffer each.
 */
class TextPieces {
  private buf = Buffer.allocUnsafeSlow(0);

  encode(s: string): Uint8Array {
    const n = Buffer.byteLength(s, 'utf8');
    if (n > this.buf.length) this.buf = Buffer.allocUnsafeSlow(Math.max(n, Math.ceil(this.buf.length * 1.5)));
    this.buf.write(s, 0, n, 'utf8');
    return this.buf.subarray(0, n);
  }
}
