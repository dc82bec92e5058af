import { randomFillSync } from 'node:crypto';
import type { Clock, Rng } from '../lib/ports';
import { generateJoinToken } from '../manager/ca/core/token';

/** The real clock and entropy, handed to the pure cores through their ports. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * The CSPRNG's bytes, drawn a pool at a time, as node's own randomUUID caches its entropy: a call of
 * `randomBytes(16)` cost ≈ 2 µs, most of a task ID's 3 µs, and a 100,000-replica create makes 100,000
 * IDs on the leader's thread (issue 15). Each byte is handed out once.
 */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let poolAt = POOL_BYTES;

function randomBytesPooled(n: number): Uint8Array {
  const out = new Uint8Array(n);
  if (n > POOL_BYTES / 4) return randomFillSync(out);
  if (poolAt + n > POOL_BYTES) {
    randomFillSync(pool);
    poolAt = 0;
  }
  out.set(pool.subarray(poolAt, poolAt + n));
  pool.fill(0, poolAt, poolAt + n);
  poolAt += n;
  return out;
}

export const systemRng: Rng = {
  next: () => Buffer.from(randomBytesPooled(6)).readUIntBE(0, 6) / 2 ** 48,
  bytes: randomBytesPooled,
};

/** A fresh join token for the root CA with this digest (16 random bytes of secret, as swarmkit). */
export function newJoinToken(caDigest: Uint8Array): string {
  return generateJoinToken(caDigest, systemRng.bytes(16));
}
