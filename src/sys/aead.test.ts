import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSealed, keyLookup, newDataKey, open, seal, sealedKeyId, sealParts, SealedDataError } from './aead';

test('seal/open round-trips; the blob names its key and hides the plain text', () => {
  const k = newDataKey();
  const plain = Buffer.from('SECRET-MARKER-1234 env value');
  const b = seal(k, plain, Buffer.from('ctx'));
  assert.ok(isSealed(b));
  assert.equal(sealedKeyId(b), k.id);
  assert.equal(b.includes('SECRET-MARKER'), false);
  assert.deepEqual(open(keyLookup(k), b, Buffer.from('ctx')), plain);
  assert.notDeepEqual(seal(k, plain), seal(k, plain), 'a fresh nonce each time');
});

test('open refuses another context, another key, a flipped bit and a missing key', () => {
  const k = newDataKey();
  const b = seal(k, Buffer.from('x'.repeat(100)), Buffer.from('raft-entry:5'));
  assert.throws(() => open(keyLookup(k), b, Buffer.from('raft-entry:6')), SealedDataError);
  assert.throws(() => open(keyLookup({ id: k.id, key: newDataKey().key }), b, Buffer.from('raft-entry:5')), /does not authenticate/);
  const flipped = Buffer.from(b);
  flipped[flipped.length - 1]! ^= 1;
  assert.throws(() => open(keyLookup(k), flipped, Buffer.from('raft-entry:5')), SealedDataError);
  assert.throws(() => open(keyLookup(), b, Buffer.from('raft-entry:5')), /no key/);
  assert.throws(() => open(keyLookup(k), Buffer.from('{"plain":true}')), /not sealed/);
  assert.equal(isSealed(Buffer.from('{"plain":true}')), false);
});

test('sealParts: the two parts written one after the other are a sealed blob; the tag covers the ciphertext part', () => {
  const k = newDataKey();
  const plain = Buffer.alloc(200_000, 'snapshot ');
  const [front, body] = sealParts(k, plain, Buffer.from('snap:9:2'));
  assert.equal(body.length, plain.length, 'the ciphertext part is the payload, not a copy of the whole blob');
  const joined = Buffer.concat([front, body]);
  assert.equal(sealedKeyId(joined), k.id);
  assert.deepEqual(open(keyLookup(k), joined, Buffer.from('snap:9:2')), plain);
  body[body.length - 1]! ^= 1;
  assert.throws(() => open(keyLookup(k), Buffer.concat([front, body]), Buffer.from('snap:9:2')), /does not authenticate/);
});
