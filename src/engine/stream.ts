// Byte-stream helpers for the Engine API's streaming answers: the multiplexed stdout/stderr
// framing of attach/logs, newline-delimited JSON (events), and timestamped log lines.
import { Demuxer } from '../lib/stdstream';
import type { LogFrame } from './types';

const STREAMS: Record<number, LogFrame['stream']> = { 0: 'stdin', 1: 'stdout', 2: 'stderr' };

/** Splits the engine's multiplexed stream into frames; frames may arrive split across chunks in any way. */
export async function* demux(chunks: AsyncIterable<Buffer | Uint8Array | string>): AsyncGenerator<LogFrame> {
  const demuxer = new Demuxer();
  for await (const c of chunks) {
    const chunk: Buffer = typeof c === 'string' ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    // copied: the frames outlive the chunk buffers they were cut from
    for (const f of demuxer.push(chunk)) yield { stream: STREAMS[f.stream] ?? 'stdout', data: Buffer.from(f.data) };
  }
}

/** A raw (TTY) stream as frames of stdout. */
export async function* rawFrames(chunks: AsyncIterable<Buffer | Uint8Array | string>): AsyncGenerator<LogFrame> {
  for await (const c of chunks) yield { stream: 'stdout', data: Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array) };
}

/** Newline-delimited JSON objects (the events stream, pull progress). */
export async function* jsonLines<T>(chunks: AsyncIterable<Buffer | Uint8Array | string>): AsyncGenerator<T> {
  let rest = '';
  for await (const c of chunks) {
    rest += typeof c === 'string' ? c : Buffer.from(c).toString('utf8');
    let i: number;
    while ((i = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, i).trim();
      rest = rest.slice(i + 1);
      if (line) yield JSON.parse(line) as T;
    }
  }
  if (rest.trim()) yield JSON.parse(rest) as T;
}

export interface TimedLine {
  stream: 'stdout' | 'stderr';
  /** Milliseconds since the epoch. */
  time: number;
  /** The line including its trailing newline (one is added to a final unterminated line). */
  data: Buffer;
}

/** RFC 3339 with up to nanoseconds → milliseconds since the epoch (fraction beyond ms dropped). */
export function parseRfc3339(ts: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return NaN;
  const ms = (m[2] ?? '').padEnd(3, '0').slice(0, 3);
  return Date.parse(`${m[1]}.${ms}${m[3]}`);
}

/**
 * Frames of a log stream requested with `timestamps=1` → lines with their time. Each line the
 * engine sends starts with "<RFC3339Nano> "; lines may span frames, so bytes are kept per stream.
 */
export async function* timedLines(frames: AsyncIterable<LogFrame>): AsyncGenerator<TimedLine> {
  const rest: Record<'stdout' | 'stderr', Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  const toLine = (stream: 'stdout' | 'stderr', raw: Buffer): TimedLine => {
    const sp = raw.indexOf(0x20);
    const t = sp > 0 ? parseRfc3339(raw.subarray(0, sp).toString('latin1')) : NaN;
    if (Number.isNaN(t)) return { stream, time: 0, data: raw };
    return { stream, time: t, data: raw.subarray(sp + 1) };
  };
  for await (const f of frames) {
    if (f.stream === 'stdin') continue;
    let buf: Buffer = rest[f.stream].length ? Buffer.concat([rest[f.stream], f.data]) : f.data;
    let i: number;
    while ((i = buf.indexOf(0x0a)) >= 0) {
      yield toLine(f.stream, Buffer.from(buf.subarray(0, i + 1)));
      buf = buf.subarray(i + 1);
    }
    rest[f.stream] = buf;
  }
  for (const s of ['stdout', 'stderr'] as const) {
    if (rest[s].length) yield toLine(s, Buffer.concat([rest[s], Buffer.from('\n')]));
  }
}
