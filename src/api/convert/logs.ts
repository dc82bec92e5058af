import { isoTime } from '../../lib/time';

// Docker's log stream encodings. Multiplexed (non-TTY): every frame is an 8-byte header —
// stream type (1 stdout, 2 stderr), three zero bytes, payload length as uint32 big-endian —
// then the payload. TTY streams are raw bytes.

export type StreamKind = 'stdin' | 'stdout' | 'stderr';

const STREAM_TYPE: Record<StreamKind, number> = { stdin: 0, stdout: 1, stderr: 2 };

export function frame(stream: StreamKind, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header[0] = STREAM_TYPE[stream];
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Splits a multiplexed byte stream into frames (tests and clients); a trailing partial frame is returned as `rest`. */
export function deframe(buf: Buffer): { frames: { stream: number; data: Buffer }[]; rest: Buffer } {
  const frames: { stream: number; data: Buffer }[] = [];
  let off = 0;
  while (buf.length - off >= 8) {
    const len = buf.readUInt32BE(off + 4);
    if (buf.length - off - 8 < len) break;
    frames.push({ stream: buf[off], data: buf.subarray(off + 8, off + 8 + len) });
    off += 8 + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/** Go's url.QueryEscape: keeps [A-Za-z0-9-_.~], spaces become '+', the rest %XX. */
export function queryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+');
}

/** `k=v,k=v` sorted by key, each side query-escaped: the `details=true` prefix the docker CLI parses. */
export function formatDetails(attrs: Record<string, string>): string {
  return Object.keys(attrs)
    .sort()
    .map((k) => `${queryEscape(k)}=${queryEscape(attrs[k])}`)
    .join(',');
}

/** RFC3339 with exactly nine fractional digits (Docker's RFC3339NanoFixed), from epoch milliseconds. */
export function fixedNanoTime(ms: number): string {
  return isoTime(ms);
}

export interface LogLineLike {
  stream: 'stdout' | 'stderr';
  /** Epoch milliseconds. */
  time: number;
  data: Uint8Array;
  taskId: string;
  nodeId: string;
  serviceId: string;
}

/** One log message as Docker writes it: `[timestamp ][details ]data`, newline-terminated. */
export function formatLogLine(line: LogLineLike, opts: { timestamps: boolean; details: boolean }): Buffer {
  const parts: Buffer[] = [];
  if (opts.timestamps) parts.push(Buffer.from(fixedNanoTime(line.time) + ' '));
  if (opts.details) {
    const d = formatDetails({
      'com.docker.swarm.node.id': line.nodeId,
      'com.docker.swarm.service.id': line.serviceId,
      'com.docker.swarm.task.id': line.taskId,
    });
    parts.push(Buffer.from(d + ' '));
  }
  const data = Buffer.from(line.data.buffer, line.data.byteOffset, line.data.byteLength);
  parts.push(data);
  if (data.length === 0 || data[data.length - 1] !== 0x0a) parts.push(Buffer.from('\n'));
  return Buffer.concat(parts);
}
