import assert from 'node:assert/strict';
import { test } from 'node:test';
import { humanUnlockKey, nextUnlockKey, parseHumanUnlockKey } from './unlock-key';

test('SWMKEY-1- with unpadded standard base64 of the 32 bytes, as swarmkit prints it; parsed back', () => {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 250);
  const h = humanUnlockKey(key);
  assert.equal(h, 'SWMKEY-1-+gEIDxYdJCsyOUBHTlVcY2pxeH+GjZSboqmwt77FzNM');
  assert.match(h, /^SWMKEY-1-[A-Za-z0-9+/]{43}$/);
  assert.deepEqual(parseHumanUnlockKey(`${h}\n`), key);
});

test('anything else is swarmkit\'s "invalid key string"', () => {
  for (const bad of ['', 'SWMKEY-2-abc', 'abc', 'SWMKEY-1-a_b', 'SWMKEY-1-a']) assert.throws(() => parseHumanUnlockKey(bad), /^Error: invalid key string$|invalid key string/);
});

test('a key exists exactly while autolock is on; on, or a rotation, makes a new one', () => {
  let n = 0;
  const gen = () => new Uint8Array(32).fill(++n);
  assert.equal(nextUnlockKey(undefined, false, true, gen), undefined);
  const k1 = nextUnlockKey(undefined, true, false, gen)!;
  assert.equal(nextUnlockKey(k1, true, false, gen), k1);
  const k2 = nextUnlockKey(k1, true, true, gen)!;
  assert.notEqual(k2, k1);
  assert.equal(nextUnlockKey(k2, false, false, gen), undefined);
});
