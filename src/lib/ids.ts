import type { Rng } from './ports';

/** Lowercase base-36 digits of a big-endian byte string, left-padded with zeros to `width`. */
export function base36(bytes: Uint8Array, width: number): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n.toString(36).padStart(width, '0');
}

/** An object ID as swarmkit makes them: 128 random bits in base 36, 25 characters. */
export function newId(rng: Rng): string {
  return base36(rng.bytes(16), 25);
}

/** Resolves a user's reference (full ID, name, or unique ID prefix) the way the Engine API does. */
export function matchesIdPrefix(id: string, ref: string): boolean {
  return ref.length > 0 && id.startsWith(ref);
}
