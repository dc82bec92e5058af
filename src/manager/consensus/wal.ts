// The Raft log's files: an append-only sequence of records in segment files (storage.ts gives the
// records their meaning). One append is one positional write and one fdatasync. The lmdb B-tree it
// replaced flushed the device twice per commit (its pages, then its meta page through an O_DSYNC
// descriptor): 0.26 ms a commit on this disk against 0.10 ms here (performance.md, "The Raft log as
// segment files").
//
// Layout: `<dir>/<seq: 16 hex digits>.wal`. Each segment is preallocated with zeros, because a write into
// blocks the file already has syncs faster than one that grows it (0.10 against 0.13 ms here); the
// next one is zeroed in the background once the current one is half full. A record is framed
//   u32 LE body length | u32 LE crc32 of the body | body
// and a zero length ends a segment's records. Whoever appends decides what a new segment starts with
// (`header`): the storage writes its whole state there, so any prefix of old segments can be deleted.
//
// Crash safety: an append is acknowledged (its promise resolves, or the blocking call returns) only after
// every record appended before it is written and synced as well, so nothing after the first torn record
// (short, failing its crc, or a zero length followed by other bytes) was ever acknowledged. Replay stops
// there, deletes the segments after it and zeroes the rest of that segment, so no stale bytes can later
// be read as records.
//
// Every append writes its bytes on the calling thread, in order: a write of a record into the page cache
// costs microseconds and does not touch the disk. Only the sync can take long, so only the sync of a
// background append goes to libuv's threads; a write there too was a second hop to the pool and back,
// on a leader's path to its own durable entry (performance.md, "The leader's write on its thread").
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { internal } from '../../lib/errors';
import { syncDirSync } from '../../sys/durable-file';

/** Bytes preallocated per segment; a record larger than that gets a segment of its own size. */
export const SEGMENT_BYTES = 4 * 1024 * 1024;
const FRAME = 8;
const PREPARED = 'next.wal.tmp';
const SEGMENT_NAME = /^([0-9a-f]{16})\.wal$/;
const ZEROS = Buffer.alloc(64 * 1024);

/** One record's body: a buffer, or parts written one after the other (no copy to join them). */
export type Body = Buffer | readonly Buffer[];

const bodyLength = (b: Body): number => {
  if (Buffer.isBuffer(b)) return b.length;
  let n = 0;
  for (const p of b as readonly Buffer[]) n += p.length;
  return n;
};

/** Where one record is: its segment, the offset of its frame, the length of its body. */
export interface RecordAt {
  seg: number;
  off: number;
  len: number;
}

export type WriteMode = 'blocking' | 'background';

interface Segment {
  seq: number;
  fd: number;
  /** Offset after the last record. */
  end: number;
  /** Preallocated size: an append that would pass it (and is not the segment's first) starts the next segment. */
  cap: number;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

const segmentFile = (seq: number) => `${seq.toString(16).padStart(16, '0')}.wal`;

function frame(bodies: readonly Body[]): Buffer {
  let size = 0;
  for (const b of bodies) size += FRAME + bodyLength(b);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const b of bodies) {
    const parts = Buffer.isBuffer(b) ? [b] : (b as readonly Buffer[]);
    let len = 0;
    let crc = 0;
    for (const p of parts) {
      p.copy(out, at + FRAME + len);
      crc = zlib.crc32(p, crc);
      len += p.length;
    }
    out.writeUInt32LE(len, at);
    out.writeUInt32LE(crc, at + 4);
    at += FRAME + len;
  }
  return out;
}

function isZero(buf: Buffer): boolean {
  for (let at = 0; at < buf.length; at += ZEROS.length) {
    const part = buf.subarray(at, at + ZEROS.length);
    if (!part.equals(ZEROS.subarray(0, part.length))) return false;
  }
  return true;
}

function writeFullSync(fd: number, buf: Buffer, off: number): void {
  for (let done = 0; done < buf.length; ) done += fs.writeSync(fd, buf, done, buf.length - done, off + done);
}

const fdatasync = (fd: number) => new Promise<void>((resolve, reject) => fs.fdatasync(fd, (e) => (e ? reject(e) : resolve())));

function writeZerosSync(fd: number, from: number, to: number): void {
  for (let at = from; at < to; at += ZEROS.length) writeFullSync(fd, ZEROS.subarray(0, Math.min(ZEROS.length, to - at)), at);
}

/**
 * A new segment file written whole on this thread: `content`, then zeros up to `size`, synced when
 * `fsync`. Returns its descriptor, open for reading and writing.
 */
function segmentFileSync(file: string, content: Buffer, size: number, fsync: boolean): number {
  const fd = fs.openSync(file, 'w+', 0o600);
  try {
    writeFullSync(fd, content, 0);
    writeZerosSync(fd, content.length, size);
    if (fsync) fs.fdatasyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return fd;
}

/** Where `bodies` are once written one after the other from `off` in segment `seq`. */
function placesOf(seq: number, off: number, bodies: readonly Body[]): RecordAt[] {
  const at: RecordAt[] = [];
  for (const b of bodies) {
    const len = bodyLength(b);
    at.push({ seg: seq, off, len });
    off += FRAME + len;
  }
  return at;
}

export class SegmentedLog {
  private segs: Segment[] = [];
  /** Segments written to since their last sync. */
  private unsynced = new Set<Segment>();
  /** What the background flush is syncing now (taken from `unsynced`). */
  private syncing = new Set<Segment>();
  private waiting: Waiter[] = [];
  private flushing = false;
  private failed: unknown;
  private preparing: Promise<void> | undefined;
  private prepared = false;
  private closed = false;

  /** `fsync: false` only for the bench's no-fsync baseline (RaftConsensusOptions.fsync). */
  constructor(
    readonly dir: string,
    private readonly opts: { fsync: boolean; segmentBytes?: number } = { fsync: true },
  ) {}

  private get segmentBytes(): number {
    return this.opts.segmentBytes ?? SEGMENT_BYTES;
  }

  /**
   * A log holding only `bodies`, created whole: written beside as `<dir>.tmp` and renamed into place, so a
   * crash leaves either no log or all of it (the lmdb migration in storage.ts).
   */
  static create(dir: string, bodies: readonly Body[], opts: { fsync: boolean; segmentBytes?: number } = { fsync: true }): void {
    const tmp = `${dir}.tmp`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { mode: 0o700 });
    const content = frame(bodies);
    fs.closeSync(segmentFileSync(path.join(tmp, segmentFile(1)), content, Math.max(opts.segmentBytes ?? SEGMENT_BYTES, content.length), opts.fsync));
    if (opts.fsync) syncDirSync(tmp);
    fs.renameSync(tmp, dir);
    if (opts.fsync) syncDirSync(path.dirname(dir));
  }

  /**
   * Opens the log and hands every record to `visit`, in order (once, before any append). A torn tail is
   * cut off here (see the top of the file).
   */
  open(visit: (body: Buffer, at: RecordAt) => void): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // the next segment zeroed ahead, or a rewrite a crash interrupted: never part of the log
    for (const f of fs.readdirSync(this.dir)) if (f.endsWith('.tmp')) fs.rmSync(path.join(this.dir, f), { force: true });
    const seqs = fs
      .readdirSync(this.dir)
      .map((f) => SEGMENT_NAME.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => parseInt(m[1]!, 16))
      .sort((a, b) => a - b);
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i]!;
      const file = path.join(this.dir, segmentFile(seq));
      const buf = fs.readFileSync(file);
      let at = 0;
      let torn = false;
      while (at + FRAME <= buf.length) {
        const len = buf.readUInt32LE(at);
        if (len === 0) break;
        if (at + FRAME + len > buf.length) {
          torn = true;
          break;
        }
        const body = buf.subarray(at + FRAME, at + FRAME + len);
        if (zlib.crc32(body) !== buf.readUInt32LE(at + 4)) {
          torn = true;
          break;
        }
        visit(body, { seg: seq, off: at, len });
        at += FRAME + len;
      }
      if (!torn && !isZero(buf.subarray(at))) torn = true;
      const fd = fs.openSync(file, 'r+');
      this.segs.push({ seq, fd, end: at, cap: Math.max(buf.length, this.segmentBytes) });
      if (torn) {
        // nothing from here on was acknowledged: the rest of this segment is zeroed, later segments go
        writeZerosSync(fd, at, buf.length);
        if (this.opts.fsync) fs.fdatasyncSync(fd);
        for (const later of seqs.slice(i + 1)) fs.rmSync(path.join(this.dir, segmentFile(later)), { force: true });
        break;
      }
    }
  }

  private current(): Segment | undefined {
    return this.segs[this.segs.length - 1];
  }

  /**
   * Appends `bodies` as one write. `header()` is asked for the records a new segment starts with, when
   * this append starts one. `at` (the bodies' places, header excluded) is known at once; `done` settles
   * when the write is durable, and every append before it. Both modes write on this thread; `blocking`
   * syncs on it too (everything unsynced, so no earlier append is overtaken), `background` on libuv's
   * threads, appends that arrive meanwhile sharing the next sync.
   */
  append(bodies: readonly Body[], mode: WriteMode, header: () => Body[]): { at: RecordAt[]; done: Promise<void> } {
    if (this.failed !== undefined) throw this.failed;
    if (this.closed) throw internal('raft: the log is closed');
    let size = 0;
    for (const b of bodies) size += FRAME + bodyLength(b);
    let seg = this.current();
    if (!seg || (seg.end > 0 && seg.end + size > seg.cap)) seg = this.cut();
    const head = seg.end === 0 ? header() : [];
    const buf = frame([...head, ...bodies]);
    let off = seg.end;
    for (const b of head) off += FRAME + bodyLength(b);
    const at = placesOf(seg.seq, off, bodies);
    try {
      writeFullSync(seg.fd, buf, seg.end);
    } catch (e) {
      this.fail(e);
      throw e;
    }
    this.unsynced.add(seg);
    seg.end += buf.length;
    if (seg.end > seg.cap) seg.cap = seg.end;
    if (seg.end > seg.cap / 2) this.prepareNext();
    if (mode === 'blocking') {
      this.syncNow();
      return { at, done: Promise.resolve() };
    }
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.kick();
    return { at, done };
  }

  /** Syncs everything not yet synced, on this thread. */
  private syncNow(): void {
    try {
      // the background flush's sync may not have finished: synced here too, so none is acknowledged before it is durable
      const fds = new Set([...this.syncing, ...this.unsynced].map((seg) => seg.fd));
      if (this.opts.fsync) for (const fd of fds) fs.fdatasyncSync(fd);
    } catch (e) {
      this.fail(e);
      throw e;
    }
    this.unsynced = new Set();
    // everything appended is durable: the background appends waiting are too
    const waiters = this.waiting;
    this.waiting = [];
    for (const w of waiters) w.resolve();
  }

  private kick(): void {
    if (!this.flushing) void this.flush();
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    let waiters: Waiter[] = [];
    try {
      while (this.waiting.length > 0) {
        const items = this.unsynced;
        this.syncing = items;
        this.unsynced = new Set();
        waiters = this.waiting;
        this.waiting = [];
        const fds = new Set([...items].map((seg) => seg.fd));
        if (this.opts.fsync) for (const fd of fds) await fdatasync(fd);
        for (const w of waiters) w.resolve();
        waiters = [];
      }
    } catch (e) {
      this.fail(e, waiters);
    } finally {
      this.syncing = new Set();
      this.flushing = false;
    }
  }

  private fail(e: unknown, more: Waiter[] = []): void {
    this.failed = e;
    const waiters = [...more, ...this.waiting];
    this.waiting = [];
    for (const w of waiters) w.reject(e);
  }

  /** Settles once every append made before it is durable. */
  drain(): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    if (!this.flushing && this.waiting.length === 0 && this.unsynced.size === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.kick();
    });
  }

  /** The next segment: the one zeroed in the background if it is ready, else zeroed now. */
  private cut(): Segment {
    const seq = (this.current()?.seq ?? 0) + 1;
    const file = path.join(this.dir, segmentFile(seq));
    if (this.prepared) {
      fs.renameSync(path.join(this.dir, PREPARED), file);
      this.prepared = false;
    } else {
      fs.closeSync(segmentFileSync(file, Buffer.alloc(0), this.segmentBytes, this.opts.fsync));
    }
    if (this.opts.fsync) syncDirSync(this.dir);
    const seg: Segment = { seq, fd: fs.openSync(file, 'r+'), end: 0, cap: this.segmentBytes };
    this.segs.push(seg);
    return seg;
  }

  private prepareNext(): void {
    if (this.preparing || this.prepared || this.closed) return;
    const file = path.join(this.dir, PREPARED);
    const size = this.segmentBytes;
    this.preparing = (async () => {
      const fh = await fs.promises.open(file, 'w', 0o600);
      try {
        for (let at = 0; at < size; at += ZEROS.length) await fh.write(ZEROS, 0, Math.min(ZEROS.length, size - at), at);
        if (this.opts.fsync) await fh.datasync();
      } finally {
        await fh.close();
      }
      if (!this.closed) this.prepared = true;
    })()
      .catch(() => undefined) // the next cut zeroes its segment itself
      .finally(() => {
        this.preparing = undefined;
      });
  }

  /** The body of the record at `at` (appended, even if not yet synced: every append is written at once). */
  read(at: RecordAt): Buffer {
    const seg = this.segs.find((s) => s.seq === at.seg);
    if (!seg) throw internal(`raft: log segment ${segmentFile(at.seg)} is gone`);
    const buf = Buffer.allocUnsafe(FRAME + at.len);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(seg.fd, buf, got, buf.length - got, at.off + got);
      if (n === 0) break;
      got += n;
    }
    if (got < buf.length || buf.readUInt32LE(0) !== at.len || zlib.crc32(buf.subarray(FRAME)) !== buf.readUInt32LE(4)) {
      throw internal(`raft: log segment ${segmentFile(at.seg)} is damaged at offset ${at.off}`);
    }
    return buf.subarray(FRAME);
  }

  /** Deletes the segments before `seq` (never the one appended to, nor one with a write in flight). */
  deleteBefore(seq: number): void {
    const cur = this.current();
    const busy = new Set([...this.unsynced, ...this.syncing]);
    const before = this.segs.length;
    this.segs = this.segs.filter((s) => {
      if (s.seq >= seq || s === cur || busy.has(s)) return true;
      fs.closeSync(s.fd);
      fs.rmSync(path.join(this.dir, segmentFile(s.seq)), { force: true });
      return false;
    });
    // so that a crash cannot bring back some of them and not others (a hole in the log)
    if (this.segs.length < before && this.opts.fsync) syncDirSync(this.dir);
  }

  /** Sequence numbers of the segments, oldest first (tests and diagnostics). */
  segments(): number[] {
    return this.segs.map((s) => s.seq);
  }

  /**
   * Replaces the whole log with the records `build()` returns (called once every append before is
   * durable): a new segment written and synced, then every older one deleted. A crash in between
   * leaves both, and the new segment's records must then restate everything (storage.ts: its state
   * record first). `installed` is told where the records are, before anything else is appended.
   */
  async rewrite(build: () => Body[], installed: (at: RecordAt[]) => void): Promise<void> {
    for (let i = 0; i < 100 && (this.flushing || this.unsynced.size > 0 || this.waiting.length > 0); i++) await this.drain();
    this.rewriteNow(build, installed);
  }

  /** `rewrite` on this thread, `installed` told where the records are before anything else is appended; only with nothing being written in the background (at load). */
  rewriteNow(build: () => Body[], installed: (at: RecordAt[]) => void): void {
    if (this.flushing) throw internal('raft: the log cannot be rewritten while it is being written');
    if (this.unsynced.size > 0) this.syncNow();
    const bodies = build();
    const seq = (this.current()?.seq ?? 0) + 1;
    const content = frame(bodies);
    const file = path.join(this.dir, segmentFile(seq));
    const tmp = `${file}.tmp`;
    const fd = segmentFileSync(tmp, content, Math.max(this.segmentBytes, content.length), this.opts.fsync);
    fs.renameSync(tmp, file);
    if (this.opts.fsync) syncDirSync(this.dir);
    for (const s of this.segs) {
      fs.closeSync(s.fd);
      fs.rmSync(path.join(this.dir, segmentFile(s.seq)), { force: true });
    }
    this.segs = [{ seq, fd, end: content.length, cap: Math.max(this.segmentBytes, content.length) }];
    installed(placesOf(seq, 0, bodies));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.drain().catch(() => undefined);
    this.closed = true;
    await this.preparing;
    for (const s of this.segs) fs.closeSync(s.fd);
    this.segs = [];
  }
}
