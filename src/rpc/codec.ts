// Wire encoding of RPC messages: JSON, with byte arrays carried as {"$b": "<base64>"} so Raft
// entries and snapshots travel intact. No protobuf code generation.
const BYTES_TAG = '$b';

function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { [BYTES_TAG]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  // Buffer#toJSON runs before the replacer sees it: turn {type:'Buffer', data:[…]} back into bytes.
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return { [BYTES_TAG]: Buffer.from((value as { data: number[] }).data).toString('base64') };
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === BYTES_TAG && typeof (value as Record<string, unknown>)[BYTES_TAG] === 'string') {
      const b = Buffer.from((value as Record<string, string>)[BYTES_TAG]!, 'base64');
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }
  }
  return value;
}

export function serialize(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value === undefined ? null : value, replacer), 'utf8');
}

export function deserialize<T = unknown>(buf: Buffer): T {
  if (buf.length === 0) return null as T;
  return JSON.parse(buf.toString('utf8'), reviver) as T;
}
