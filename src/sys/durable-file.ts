// The one way the daemon writes a state file (node state, certificates and keys, agent and task
// state, Raft settings and snapshots): a crash or power cut at any point leaves either the old file
// or the new one, never a torn or empty one. Write a temp file beside the target, fsync it, rename
// it over the target, then fsync the directory so the rename itself is durable.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface DurableWriteOptions {
  /** File mode of the written file. Default 0o600: nothing under a data dir is for other accounts. */
  mode?: number;
}

/** What to write: one piece, or pieces written one after the other (never joined: a snapshot's are tens of MiB). */
type Data = string | Uint8Array | readonly Uint8Array[];
const pieces = (d: Data): readonly (string | Uint8Array)[] => (typeof d === 'string' || d instanceof Uint8Array ? [d] : d);

/** Bytes written over bytes already written, at their offset (a header whose fields are known only at the end). */
export interface Patch {
  at: number;
  bytes: Uint8Array;
}

export interface StreamedWriteOptions extends DurableWriteOptions {
  /** Asked once every piece is written, before the fsync: what to write over what was written. */
  patches?: () => readonly Patch[];
}

let seq = 0;
const tmpName = (file: string) => path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${seq++}.tmp`);

/** Makes the entries of `dir` (a file created, renamed or removed in it) durable. */
export function syncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Atomically and durably replaces `file` with `data` (synchronous). */
export function writeFileDurableSync(file: string, data: Data, opts: DurableWriteOptions = {}): void {
  const mode = opts.mode ?? 0o600;
  const tmp = tmpName(file);
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    try {
      // on a descriptor each write goes on at the current position; it loops over short writes, unlike writeSync
      for (const p of pieces(data)) fs.writeFileSync(fd, p);
      // open's mode is filtered by the umask; the mode asked for is the mode wanted
      fs.fchmodSync(fd, mode);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  syncDirSync(path.dirname(file));
}

/**
 * Pieces made one at a time as they are written (a snapshot's payload, never whole in memory). Each maker is called
 * and what it returns is written within one synchronous step, in order, with the event loop free between steps; so a
 * piece may be a view of a buffer that the next maker reuses. Written at once rather than through an asynchronous
 * write: a piece is garbage as soon as it is written, and one held across an await lived through young-generation
 * collections into the old generation, which only a full collection empties (a survivor's snapshot of 100,000 tasks
 * held 34–42 MiB of array buffers at its peak that way; performance.md, tenth stop). Into the page cache a piece of
 * 1.2 MiB took 0.27 ms here (median of 40; at most 6), against about 25 ms to make the JSON of its 2,000 tasks; over a
 * whole headline bench each manager spent 0.14–0.40 s in these writes (the same place).
 */
export interface MadePieces {
  made: Iterable<() => Uint8Array>;
}

/**
 * Atomically and durably replaces `file` with `data` (asynchronous: for writes on a hot path). `data` may be
 * pieces made as they are written (MadePieces); if making one fails, the file is left as it was.
 */
export async function writeFileDurable(file: string, data: Data | MadePieces, opts: StreamedWriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const tmp = tmpName(file);
  try {
    const fh = await fs.promises.open(tmp, 'w', mode);
    try {
      if (isMadePieces(data)) {
        for (const make of data.made) {
          writeMadeSync(fh.fd, make);
          await new Promise((r) => setImmediate(r));
        }
      } else {
        // writeFile goes on from the current position, looping over short writes
        for (const p of pieces(data)) await fh.writeFile(p);
      }
      for (const p of opts.patches?.() ?? []) await writeAt(fh, p);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  const dh = await fs.promises.open(path.dirname(file), 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** One made piece, written at the descriptor's position; a function of its own so that no suspended frame holds it. */
function writeMadeSync(fd: number, make: () => Uint8Array): void {
  fs.writeFileSync(fd, make());
}

function isMadePieces(d: unknown): d is MadePieces {
  return typeof d === 'object' && d !== null && 'made' in d;
}

/** A positional write (the file's position stays where it is), looping over short writes. */
async function writeAt(fh: fs.promises.FileHandle, p: Patch): Promise<void> {
  for (let done = 0; done < p.bytes.byteLength; ) {
    const { bytesWritten } = await fh.write(p.bytes, done, p.bytes.byteLength - done, p.at + done);
    done += bytesWritten;
  }
}
