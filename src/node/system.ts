import { randomBytes } from 'node:crypto';
import type { Clock, Rng } from '../lib/ports';

/** The real clock and entropy, handed to the pure cores through their ports. */
export const systemClock: Clock = { now: () => Date.now() };

export const systemRng: Rng = {
  next: () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48,
  bytes: (n) => new Uint8Array(randomBytes(n)),
};
