import { randomBytes } from 'node:crypto';
import type { Clock, Rng } from '../lib/ports';
import { generateJoinToken } from '../manager/ca/core/token';

/** The real clock and entropy, handed to the pure cores through their ports. */
export const systemClock: Clock = { now: () => Date.now() };

export const systemRng: Rng = {
  next: () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48,
  bytes: (n) => new Uint8Array(randomBytes(n)),
};

/** A fresh join token for the root CA with this digest (16 random bytes of secret, as swarmkit). */
export function newJoinToken(caDigest: Uint8Array): string {
  return generateJoinToken(caDigest, systemRng.bytes(16));
}
