// Authenticated encryption of data at rest (Raft entries and snapshots, the DEK file, worker-side
// state): AES-256-GCM from node:crypto, as swarmkit's manager/encryption. Every sealed blob names its
// algorithm and key, so a reader holding several keys (a DEK rotation in progress) picks the right one
// and a later algorithm can be added without guessing:
//
//   "SHE1" | alg (1 byte, 1 = AES-256-GCM) | key-id length (1 byte) | key id (ASCII) | nonce (12) | tag (16) | ciphertext
//
// The header (magic through key id) and the caller's context (e.g. a Raft entry's index) are the
// additional authenticated data, so a blob moved to another index or re-labelled fails to open.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const SEALED_MAGIC = Buffer.from('SHE1', 'latin1');
export const ALG_AES_256_GCM = 1;
const NONCE = 12;
const TAG = 16;
export const KEY_BYTES = 32;

/** A 32-byte key and the short ID written beside what it sealed. */
export interface DataKey {
  id: string;
  key: Buffer;
}

/** Finds a key by the ID a blob names (undefined: not held). */
export type KeyLookup = (id: string) => Buffer | undefined;

export class SealedDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedDataError';
  }
}

/** A new random key with a random 8-hex-digit ID. */
export function newDataKey(): DataKey {
  return { id: randomBytes(4).toString('hex'), key: randomBytes(KEY_BYTES) };
}

/** True when `buf` starts like a sealed blob (plain data written by an older release does not). */
export function isSealed(buf: Uint8Array): boolean {
  return buf.length >= SEALED_MAGIC.length && Buffer.from(buf.buffer, buf.byteOffset, SEALED_MAGIC.length).equals(SEALED_MAGIC);
}

function header(keyId: string): Buffer {
  const id = Buffer.from(keyId, 'latin1');
  if (id.length === 0 || id.length > 255) throw new SealedDataError('key id must be 1-255 bytes');
  return Buffer.concat([SEALED_MAGIC, Buffer.from([ALG_AES_256_GCM, id.length]), id]);
}

/**
 * Nonces: a random 8-byte prefix per key and process, then a 32-bit counter (NIST SP 800-38D's
 * deterministic construction); a new prefix when the counter wraps. Never repeats under one key (a
 * restarted process draws a new prefix), and costs no entropy call per entry, which was a third of
 * the cost of sealing a Raft entry. The header of each key is built once.
 */
interface KeyState {
  head: Buffer;
  prefix: Buffer;
  counter: number;
}
const keyStates = new WeakMap<Buffer, KeyState>();

function keyState(k: DataKey): KeyState {
  let st = keyStates.get(k.key);
  if (!st || !st.head.subarray(SEALED_MAGIC.length + 2).equals(Buffer.from(k.id, 'latin1'))) {
    st = { head: header(k.id), prefix: randomBytes(8), counter: 0 };
    keyStates.set(k.key, st);
  }
  return st;
}

/** Encrypts `plain` under `k`; `context` is authenticated but not stored. */
export function seal(k: DataKey, plain: Uint8Array, context?: Uint8Array): Buffer {
  return Buffer.concat(sealParts(k, plain, context));
}

/**
 * `seal` as two parts to be written one after the other: the header with nonce and tag, then the
 * ciphertext. For payloads of tens of MiB (a snapshot at 100,000 tasks is ~45 MiB) this saves joining
 * them into one more copy.
 */
export function sealParts(k: DataKey, plain: Uint8Array, context?: Uint8Array): [Buffer, Buffer] {
  const s = sealer(k, context);
  const body = s.update(plain);
  return [s.finish(), body];
}

/**
 * A sealed blob made piece by piece, for a payload never whole in memory (a snapshot written as it is
 * encoded): write `front` (its tag not yet known), then what `update` returns for each piece of plain
 * text in order, then write `finish()` over `front`. The bytes are those of `seal` of the whole.
 */
export interface Sealer {
  /** The header, nonce and room for the tag (zeros until finish). */
  readonly front: Buffer;
  update(plain: Uint8Array): Buffer;
  /** The front with its tag, once every piece went through update. */
  finish(): Buffer;
}

export function sealer(k: DataKey, context?: Uint8Array): Sealer {
  if (k.key.length !== KEY_BYTES) throw new SealedDataError(`key ${k.id} is ${k.key.length} bytes, want ${KEY_BYTES}`);
  const st = keyState(k);
  if (st.counter > 0xffffffff) {
    st.prefix = randomBytes(8);
    st.counter = 0;
  }
  const head = st.head;
  const front = Buffer.alloc(head.length + NONCE + TAG);
  head.copy(front, 0);
  const nonce = front.subarray(head.length, head.length + NONCE);
  st.prefix.copy(nonce, 0);
  nonce.writeUInt32BE(st.counter++, 8);
  const c = createCipheriv('aes-256-gcm', k.key, nonce);
  c.setAAD(context ? Buffer.concat([head, context]) : head);
  return {
    front,
    update: (plain) => c.update(plain),
    finish: () => {
      c.final(); // GCM adds nothing at the end
      c.getAuthTag().copy(front, head.length + NONCE);
      return front;
    },
  };
}

/** The key ID a sealed blob names. */
export function sealedKeyId(buf: Uint8Array): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (!isSealed(b) || b.length < SEALED_MAGIC.length + 2) throw new SealedDataError('not sealed data');
  const idLen = b[SEALED_MAGIC.length + 1]!;
  return b.subarray(SEALED_MAGIC.length + 2, SEALED_MAGIC.length + 2 + idLen).toString('latin1');
}

/** Decrypts and authenticates a sealed blob; throws SealedDataError when the key is missing or the data was altered. */
export function open(keys: KeyLookup, buf: Uint8Array, context?: Uint8Array): Buffer {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (!isSealed(b) || b.length < SEALED_MAGIC.length + 2) throw new SealedDataError('not sealed data');
  const alg = b[SEALED_MAGIC.length]!;
  if (alg !== ALG_AES_256_GCM) throw new SealedDataError(`unknown encryption algorithm ${alg}`);
  const idLen = b[SEALED_MAGIC.length + 1]!;
  const headLen = SEALED_MAGIC.length + 2 + idLen;
  if (b.length < headLen + NONCE + TAG) throw new SealedDataError('sealed data is truncated');
  const head = b.subarray(0, headLen);
  const id = b.subarray(SEALED_MAGIC.length + 2, headLen).toString('latin1');
  const key = keys(id);
  if (!key) throw new SealedDataError(`no key ${id} to decrypt with`);
  const nonce = b.subarray(headLen, headLen + NONCE);
  const tag = b.subarray(headLen + NONCE, headLen + NONCE + TAG);
  const d = createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(context ? Buffer.concat([head, context]) : head);
  d.setAuthTag(tag);
  try {
    const plain = d.update(b.subarray(headLen + NONCE + TAG));
    d.final(); // GCM adds nothing at the end; this checks the tag
    return plain;
  } catch {
    throw new SealedDataError(`sealed data does not authenticate under key ${id}`);
  }
}

/** A lookup over a fixed set of keys. */
export const keyLookup = (...keys: (DataKey | undefined)[]): KeyLookup => {
  const m = new Map(keys.filter((k): k is DataKey => !!k).map((k) => [k.id, k.key]));
  return (id) => m.get(id);
};
