// Binary encoding of a batch of Raft messages for the shoal.Raft stream: one buffer per batch, so the
// RPC codec (JSON) sees one byte array instead of walking every entry of every message.
//   batch   := u32 count, message*
//   message := u8 type, u16 flags, f64 from, f64 to, f64 term, [f64 logTerm] [f64 index] [f64 commit]
//              [f64 rejectHint] [u32 n, entry*] [snapshot] [u32 len, context]
//   entry   := f64 index, f64 term, u8 type (0 normal, 1 conf), u32 len, data
//   snapshot:= f64 index, f64 term, u32 nVoters, f64 voter*, u32 len, data
// Numbers are f64 (raft IDs are 48-bit), little endian.
// On the shoal.Raft stream each gRPC message is framed here too (raftStreamCodec), not in the RPC layer's
// JSON, which would carry the batch as base64 inside a JSON object (a third more bytes, and a string
// built and parsed per batch on both sides):
//   stream batch := f64 n, batch      stream ack := f64 n, [utf8 err]   (n counts batches per stream: f64, as u32 would wrap in days)
import { MESSAGE_TYPES, type Entry, type Message, type MessageType } from '../../raft';
import { invalidArgument } from '../../lib/errors';
import type { WireCodec } from '../../rpc';

const TYPE_CODE = new Map<MessageType, number>(MESSAGE_TYPES.map((t, i) => [t, i]));

const F_LOGTERM = 1;
const F_INDEX = 2;
const F_COMMIT = 4;
const F_REJECT = 8;
const F_HINT = 16;
const F_ENTRIES = 32;
const F_SNAP = 64;
const F_CTX = 128;

function sizeOf(m: Message): number {
  let n = 1 + 2 + 24;
  if (m.logTerm !== undefined) n += 8;
  if (m.index !== undefined) n += 8;
  if (m.commit !== undefined) n += 8;
  if (m.rejectHint !== undefined) n += 8;
  if (m.entries) {
    n += 4;
    for (const e of m.entries) n += 21 + e.data.byteLength;
  }
  if (m.snapshot) n += 24 + 8 * m.snapshot.metadata.confState.voters.length + m.snapshot.data.byteLength;
  if (m.context) n += 4 + m.context.byteLength;
  return n;
}

export function encodeBatch(messages: Message[]): Uint8Array {
  // a plain Uint8Array, not a Buffer: the RPC layer's JSON codec carries byte arrays as base64, and a Buffer's toJSON would win
  return plainBytes(encodeInto(messages, 0), 0);
}

/**
 * A batch as the shoal.Raft stream sends it: `b` for whatever reads the batch (the legacy JSON stream, tests),
 * `framed` the stream message itself (f64 n, then the batch: `b` is a view into it). Encoded once in place, so
 * the codec hands the bytes to gRPC without the copy it would make to put `n` in front.
 */
export function encodeStreamBatch(n: number, messages: Message[]): RaftStreamBatch {
  const framed = encodeInto(messages, 8);
  framed.writeDoubleLE(n, 0);
  return { n, b: plainBytes(framed, 8), framed };
}

const plainBytes = (buf: Buffer, from: number): Uint8Array => new Uint8Array(buf.buffer, buf.byteOffset + from, buf.length - from);

/** The batch's encoding after `headroom` bytes left for the caller. */
function encodeInto(messages: Message[], headroom: number): Buffer {
  let size = headroom + 4;
  for (const m of messages) size += sizeOf(m);
  const buf = Buffer.allocUnsafe(size);
  let o = buf.writeUInt32LE(messages.length, headroom);
  const bytes = (b: Uint8Array) => {
    o = buf.writeUInt32LE(b.byteLength, o);
    buf.set(b, o);
    o += b.byteLength;
  };
  for (const m of messages) {
    const code = TYPE_CODE.get(m.type);
    if (code === undefined) throw invalidArgument(`raft: unknown message type ${m.type}`);
    let flags = 0;
    if (m.logTerm !== undefined) flags |= F_LOGTERM;
    if (m.index !== undefined) flags |= F_INDEX;
    if (m.commit !== undefined) flags |= F_COMMIT;
    if (m.reject) flags |= F_REJECT;
    if (m.rejectHint !== undefined) flags |= F_HINT;
    if (m.entries) flags |= F_ENTRIES;
    if (m.snapshot) flags |= F_SNAP;
    if (m.context) flags |= F_CTX;
    o = buf.writeUInt8(code, o);
    o = buf.writeUInt16LE(flags, o);
    o = buf.writeDoubleLE(m.from, o);
    o = buf.writeDoubleLE(m.to, o);
    o = buf.writeDoubleLE(m.term, o);
    if (m.logTerm !== undefined) o = buf.writeDoubleLE(m.logTerm, o);
    if (m.index !== undefined) o = buf.writeDoubleLE(m.index, o);
    if (m.commit !== undefined) o = buf.writeDoubleLE(m.commit, o);
    if (m.rejectHint !== undefined) o = buf.writeDoubleLE(m.rejectHint, o);
    if (m.entries) {
      o = buf.writeUInt32LE(m.entries.length, o);
      for (const e of m.entries) {
        o = buf.writeDoubleLE(e.index, o);
        o = buf.writeDoubleLE(e.term, o);
        o = buf.writeUInt8(e.type === 'conf' ? 1 : 0, o);
        bytes(e.data);
      }
    }
    if (m.snapshot) {
      const md = m.snapshot.metadata;
      o = buf.writeDoubleLE(md.index, o);
      o = buf.writeDoubleLE(md.term, o);
      o = buf.writeUInt32LE(md.confState.voters.length, o);
      for (const v of md.confState.voters) o = buf.writeDoubleLE(v, o);
      bytes(m.snapshot.data);
    }
    if (m.context) bytes(m.context);
  }
  return buf.subarray(0, o);
}

export function decodeBatch(data: Uint8Array): Message[] {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let o = 0;
  const need = (n: number) => {
    if (o + n > buf.length) throw invalidArgument('raft: truncated message batch');
  };
  const f64 = () => {
    need(8);
    const v = buf.readDoubleLE(o);
    o += 8;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = buf.readUInt32LE(o);
    o += 4;
    return v;
  };
  // Copies: the RPC buffer is not ours to keep (entries outlive the call in the log).
  const bytes = () => {
    const n = u32();
    need(n);
    const b = new Uint8Array(n);
    b.set(buf.subarray(o, o + n));
    o += n;
    return b;
  };
  const count = u32();
  const out: Message[] = [];
  for (let i = 0; i < count; i++) {
    need(3);
    const type = MESSAGE_TYPES[buf.readUInt8(o)];
    const flags = buf.readUInt16LE(o + 1);
    o += 3;
    if (!type) throw invalidArgument('raft: unknown message type in batch');
    const m: Message = { type, from: f64(), to: f64(), term: f64() };
    if (flags & F_LOGTERM) m.logTerm = f64();
    if (flags & F_INDEX) m.index = f64();
    if (flags & F_COMMIT) m.commit = f64();
    if (flags & F_REJECT) m.reject = true;
    if (flags & F_HINT) m.rejectHint = f64();
    if (flags & F_ENTRIES) {
      const n = u32();
      const entries: Entry[] = new Array(n);
      for (let j = 0; j < n; j++) {
        const index = f64();
        const term = f64();
        need(1);
        const t = buf.readUInt8(o++);
        entries[j] = { index, term, type: t === 1 ? 'conf' : 'normal', data: bytes() };
      }
      m.entries = entries;
    }
    if (flags & F_SNAP) {
      const index = f64();
      const term = f64();
      const nv = u32();
      const voters: number[] = [];
      for (let j = 0; j < nv; j++) voters.push(f64());
      m.snapshot = { metadata: { index, term, confState: { voters } }, data: bytes() };
    }
    if (flags & F_CTX) m.context = bytes();
    out.push(m);
  }
  return out;
}

/** One batch on the stream: `n` numbers it (acks come back in order), `b` is encodeBatch's output. */
export interface RaftStreamBatch {
  n: number;
  b: Uint8Array;
  /** The stream message already framed (encodeStreamBatch): sent as it is. */
  framed?: Buffer;
}
/** The answer to batch `n`: stepped, or refused with `err` (the whole batch). */
export interface RaftStreamAck {
  n: number;
  err?: string;
}

function numbered(n: number, rest: Uint8Array | string): Buffer {
  const len = typeof rest === 'string' ? Buffer.byteLength(rest) : rest.byteLength;
  const buf = Buffer.allocUnsafe(8 + len);
  buf.writeDoubleLE(n, 0);
  if (typeof rest === 'string') buf.write(rest, 8, 'utf8');
  else buf.set(rest, 8);
  return buf;
}

function numberOf(buf: Buffer): number {
  if (buf.length < 8) throw invalidArgument('raft: truncated stream message');
  return buf.readDoubleLE(0);
}

/** The shoal.Raft stream's own message encoding (the RPC method's codec). */
export const raftStreamCodec: { req: WireCodec<RaftStreamBatch>; res: WireCodec<RaftStreamAck> } = {
  req: {
    serialize: (m) => m.framed ?? numbered(m.n, m.b),
    // a view, not a copy: decodeBatch copies what it keeps
    deserialize: (buf) => ({ n: numberOf(buf), b: buf.subarray(8) }),
  },
  res: {
    serialize: (a) => numbered(a.n, a.err ?? ''),
    deserialize: (buf) => {
      const n = numberOf(buf);
      return buf.length > 8 ? { n, err: buf.toString('utf8', 8) } : { n };
    },
  },
};
