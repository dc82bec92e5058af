// The swarm unlock key (autolock's key-encrypting key) as Docker shows it: `SWMKEY-1-` and the 32
// key bytes in unpadded standard base64 (swarmkit's encryption.HumanReadableKey). The cluster object
// keeps the bytes (base64); managers seal their DEK and TLS key with them.
import { invalidArgument } from './errors';

export const UNLOCK_KEY_PREFIX = 'SWMKEY-1-';
export const UNLOCK_KEY_BYTES = 32;

/** The form `docker swarm unlock-key` prints. */
export function humanUnlockKey(key: Uint8Array): string {
  return UNLOCK_KEY_PREFIX + Buffer.from(key).toString('base64').replace(/=+$/, '');
}

/** The key bytes of what a user typed; swarmkit's "invalid key string" (400) for anything else. */
export function parseHumanUnlockKey(text: string): Uint8Array {
  const s = text.trim();
  const b64 = s.slice(UNLOCK_KEY_PREFIX.length);
  if (!s.startsWith(UNLOCK_KEY_PREFIX) || !/^[A-Za-z0-9+/]*$/.test(b64) || b64.length % 4 === 1) throw invalidArgument('invalid key string');
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

/**
 * The unlock key after a cluster update (swarmkit's controlapi): one exists exactly while
 * AutoLockManagers is on; turning autolock on or a requested rotation makes a new one.
 */
export function nextUnlockKey(prev: string | undefined, autolock: boolean, rotate: boolean, newKey: () => Uint8Array): string | undefined {
  if (!autolock) return undefined;
  if (!prev || rotate) return Buffer.from(newKey()).toString('base64');
  return prev;
}
