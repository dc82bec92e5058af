// Docker's multiplexed stdout/stderr stream (attach and logs without a TTY): every frame is an
// 8-byte header — stream type (0 stdin, 1 stdout, 2 stderr), three zero bytes, payload length as
// uint32 big-endian — then the payload. The one encoder and decoder of it: the engine client,
// the API server and the CLI all use these.

export type StreamKind = 'stdin' | 'stdout' | 'stderr';

const STREAM_TYPE: Record<StreamKind, number> = { stdin: 0, stdout: 1, stderr: 2 };

/** One frame: `stream` is the header's type byte as sent. */
export interface Frame {
  stream: number;
  data: Buffer;
}

/** Encodes one frame. */
export function frame(stream: StreamKind, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header[0] = STREAM_TYPE[stream];
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Splits a multiplexed byte buffer into whole frames; a trailing partial frame is returned as `rest`. */
export function deframe(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  while (buf.length - off >= 8) {
    const len = buf.readUInt32BE(off + 4);
    if (buf.length - off - 8 < len) break;
    frames.push({ stream: buf[off]!, data: buf.subarray(off + 8, off + 8 + len) });
    off += 8 + len;
  }
  return { frames, rest: buf.subarray(off) };
}

/** Incremental demultiplexer: push chunks as they arrive (split anywhere), get whole frames back. */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    const { frames, rest } = deframe(this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk);
    this.buf = rest;
    return frames;
  }

  /** Bytes left over that do not form a whole frame. */
  get pending(): number {
    return this.buf.length;
  }
}
