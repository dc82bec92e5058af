// The node-local key that seals worker-side state (worker/tasks.json, tasks/<id>/state.json with its
// launch intent): task specs there carry environment values, which must not sit in plain text under the
// data dir. It is a random AES-256 key in `<data-dir>/state.key` (0600), created on first use and kept
// across `swarm leave`, so a node reads back what it wrote. Workers are never locked (as in Docker),
// so this key is not under the unlock key; it protects against copies of the state files (backups,
// another account reading a stray file), as swarmkit's unlocked DEK does for the Raft log.
// Files written by an older release are plain JSON: they are read as such and sealed on the next write.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSealed, keyLookup, newDataKey, open, seal, type DataKey } from './aead';
import { writeFileDurableSync } from './durable-file';

export const STATE_KEY_FILE = 'state.key';
const keys = new Map<string, DataKey>();

/** The data dir's state key (loaded once per process, created when absent). */
export function nodeStateKey(dataDir: string): DataKey {
  const file = path.join(path.resolve(dataDir), STATE_KEY_FILE);
  const cached = keys.get(file);
  if (cached) return cached;
  let k: DataKey;
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { id: string; key: string };
    k = { id: j.id, key: Buffer.from(j.key, 'base64') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    k = newDataKey();
    writeFileDurableSync(file, JSON.stringify({ id: k.id, key: k.key.toString('base64') }), { mode: 0o600 });
  }
  keys.set(file, k);
  return k;
}

/** `text` sealed under the data dir's state key. */
export function sealState(dataDir: string, text: string): Buffer {
  return seal(nodeStateKey(dataDir), Buffer.from(text, 'utf8'));
}

/** The text of a state file: opened when sealed, as is when plain (written by an older release). */
export function openState(dataDir: string, data: Buffer): { text: string; sealed: boolean } {
  if (!isSealed(data)) return { text: data.toString('utf8'), sealed: false };
  return { text: open(keyLookup(nodeStateKey(dataDir)), data).toString('utf8'), sealed: true };
}
