import { isoTime } from '../../lib/time';

// Docker's log stream encodings: multiplexed (non-TTY) frames are lib/stdstream's; TTY streams are raw bytes.
export { deframe, frame, type StreamKind } from '../../lib/stdstream';

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
