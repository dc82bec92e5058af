// Task output for the process runtime.
//
// The child writes straight into files (`out/stdout`, `out/stderr`), never into a pipe to the
// daemon: a pipe would break (SIGPIPE) when the daemon stops, and tasks must outlive it. The
// daemon's collector copies complete lines from those files into `log`, one entry per line:
//   "<ms since epoch> <o|e> <line bytes>\n"
// with the time the collector saw the line (lines written while no daemon ran get the time of
// the next collection). Offsets are kept in `log.offsets`, so a restarted daemon continues where
// its predecessor stopped.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileDurable } from '../../../sys/durable-file';
import type { LogLine, LogOptions } from '../types';

/** A line longer than this without a newline is cut (like the engine's 16 KiB partial messages). */
const MAX_LINE = 16 * 1024;
/** At most this much is read per file per collection. */
const MAX_READ = 1024 * 1024;

export const outDir = (dir: string) => path.join(dir, 'out');
export const rawFile = (dir: string, stream: 'stdout' | 'stderr') => path.join(outDir(dir), stream);
export const logFile = (dir: string) => path.join(dir, 'log');
const offsetsFile = (dir: string) => path.join(dir, 'log.offsets');

type Offsets = { stdout: number; stderr: number };

export class LogCollector {
  private offsets: Offsets;
  private running?: Promise<void>;
  private again = false;
  /** Bumped after every append; readers wait for it to change. */
  version = 0;
  private waiters = new Set<() => void>();

  constructor(
    private readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {
    try {
      this.offsets = JSON.parse(fs.readFileSync(offsetsFile(dir), 'utf8')) as Offsets;
    } catch {
      this.offsets = { stdout: 0, stderr: 0 };
    }
  }

  /**
   * Resolves once no collection is in flight. A daemon that stops waits for it: a collection appends
   * to the log, then records the raw offsets; stopping between the two would make the next daemon
   * collect the same lines again. (A kill -9 in that window still can: lines twice, never lost.)
   */
  async settled(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  /** Copies new complete lines (all remaining bytes when `final`). Calls are serialized and coalesced. */
  collect(final = false): Promise<void> {
    if (this.running) {
      if (final) return this.running.then(() => this.collect(true));
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          let appended = false;
          for (const s of ['stdout', 'stderr'] as const) {
            while (await this.collectStream(s, final)) appended = true;
          }
          if (appended) this.bump();
        } while (this.again);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Reads one chunk of `stream`; true when something was appended and more may follow. */
  private async collectStream(stream: 'stdout' | 'stderr', final: boolean): Promise<boolean> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(rawFile(this.dir, stream), 'r');
    } catch {
      return false;
    }
    let buf: Buffer;
    try {
      const { size } = await fh.stat();
      const from = this.offsets[stream];
      if (size <= from) return false;
      const len = Math.min(size - from, MAX_READ);
      buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, from);
      buf = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
    const t = this.now();
    const tag = stream === 'stdout' ? 'o' : 'e';
    const parts: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl >= 0 && nl - pos < MAX_LINE) {
        parts.push(Buffer.from(`${t} ${tag} `), buf.subarray(pos, nl + 1));
        pos = nl + 1;
        continue;
      }
      const rest = buf.length - pos;
      if (rest >= MAX_LINE || (final && rest > 0 && buf.length < MAX_READ)) {
        const cut = Math.min(rest, MAX_LINE);
        parts.push(Buffer.from(`${t} ${tag} `), buf.subarray(pos, pos + cut), Buffer.from('\n'));
        pos += cut;
        continue;
      }
      break;
    }
    if (pos === 0) return false;
    await fsp.appendFile(logFile(this.dir), Buffer.concat(parts), { mode: 0o600 });
    this.offsets[stream] += pos;
    await writeFileDurable(offsetsFile(this.dir), JSON.stringify(this.offsets), { mode: 0o600 });
    return true;
  }

  private bump(): void {
    this.version++;
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once `version` differs from `seen`, or `signal` aborts. */
  changed(seen: number, signal?: AbortSignal): Promise<void> {
    if (this.version !== seen || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const keepAlive = setInterval(() => undefined, 1 << 30);
      const done = () => {
        clearInterval(keepAlive);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Wakes followers without new data (e.g. when the task ended). */
  notify(): void {
    this.bump();
  }
}

interface Entry {
  time: number;
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** Parses complete entries from `buf`; returns them and the number of bytes consumed. */
export function parseEntries(buf: Buffer): { entries: Entry[]; used: number } {
  const entries: Entry[] = [];
  let pos = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break;
    const line = buf.subarray(pos, nl + 1);
    pos = nl + 1;
    const sp1 = line.indexOf(0x20);
    const sp2 = sp1 >= 0 ? line.indexOf(0x20, sp1 + 1) : -1;
    if (sp1 < 0 || sp2 < 0) continue;
    const time = Number(line.subarray(0, sp1).toString('latin1'));
    const tag = line.subarray(sp1 + 1, sp2).toString('latin1');
    entries.push({ time, stream: tag === 'e' ? 'stderr' : 'stdout', data: Buffer.from(line.subarray(sp2 + 1)) });
  }
  return { entries, used: pos };
}

async function readFrom(file: string, from: number, max = Infinity): Promise<Buffer> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const { size } = await fh.stat();
    if (size <= from) return Buffer.alloc(0);
    const buf = Buffer.alloc(Math.min(size - from, max));
    const { bytesRead } = await fh.read(buf, 0, buf.length, from);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export interface LogSource {
  dir: string;
  collector: LogCollector;
  /** True once the task ended and its last output was collected. */
  finished(): boolean;
}

/** The task's log entries with tail/since applied; with `follow`, new entries until the task ends. */
export async function* readLogs(src: LogSource, opts: LogOptions, signal?: AbortSignal): AsyncGenerator<LogLine> {
  const file = logFile(src.dir);
  const sinceMs = opts.since && opts.since > 0 ? opts.since * 1000 : 0;
  let seen = src.collector.version;
  const buf = await readFrom(file, 0);
  const { entries, used } = parseEntries(buf);
  let pos = used;
  let first = entries.filter((e) => e.time >= sinceMs);
  if (opts.tail !== 'all' && opts.tail >= 0) first = opts.tail === 0 ? [] : first.slice(-opts.tail);
  for (const e of first) yield { stream: e.stream, time: e.time, data: e.data };
  if (!opts.follow) return;
  for (;;) {
    if (signal?.aborted) return;
    seen = src.collector.version;
    // a bounded step: a reader that does not take lines holds at most one step here
    const more = await readFrom(file, pos, MAX_READ);
    const parsed = parseEntries(more);
    pos += parsed.used;
    for (const e of parsed.entries) if (e.time >= sinceMs) yield { stream: e.stream, time: e.time, data: e.data };
    if (parsed.used > 0) continue;
    if (src.finished()) {
      // one last look: the final collection may have landed between the read and this check
      for (;;) {
        const last = parseEntries(await readFrom(file, pos, MAX_READ));
        pos += last.used;
        for (const e of last.entries) if (e.time >= sinceMs) yield { stream: e.stream, time: e.time, data: e.data };
        if (last.used === 0) return;
      }
    }
    await src.collector.changed(seen, signal);
  }
}
