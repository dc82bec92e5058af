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
 * Atomically and durably replaces `file` with `data` (asynchronous: for writes on a hot path). `data` may be
 * pieces made as they are written (an async iterable: a snapshot's payload is then never whole in memory);
 * if making them fails, the file is left as it was.
 */
export async function writeFileDurable(file: string, data: Data | AsyncIterable<Uint8Array>, opts: StreamedWriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const tmp = tmpName(file);
  try {
    const fh = await fs.promises.open(tmp, 'w', mode);
    try {
      // writeFile goes on from the current position, looping over short writes
      if (isAsyncIterable(data)) for await (const p of data) await fh.writeFile(p);
      else for (const p of pieces(data)) await fh.writeFile(p);
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

function isAsyncIterable(d: unknown): d is AsyncIterable<Uint8Array> {
  return typeof d === 'object' && d !== null && Symbol.asyncIterator in d;
}

/** A positional write (the file's position stays where it is), looping over short writes. */
async function writeAt(fh: fs.promises.FileHandle, p: Patch): Promise<void> {
  for (let done = 0; done < p.bytes.byteLength; ) {
    const { bytesWritten } = await fh.write(p.bytes, done, p.bytes.byteLength - done, p.at + done);
    done += bytesWritten;
  }
}
