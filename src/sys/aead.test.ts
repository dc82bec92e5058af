import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSealed, keyLookup, newDataKey, open, seal, sealedKeyId, sealer, sealParts, SealedDataError } from './aead';

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

test('sealer: a payload sealed piece by piece, its front written first and finished last, opens as one sealed blob', () => {
  const k = newDataKey();
  const pieces = [Buffer.from('{"v":1,'), Buffer.alloc(70_000, 'x'), Buffer.alloc(0), Buffer.from('"end":true}')];
  const s = sealer(k, Buffer.from('snap:4:1'));
  const frontAsWritten = Buffer.from(s.front);
  const body = pieces.map((p) => s.update(p));
  const front = s.finish();
  assert.equal(front.length, frontAsWritten.length, 'the finished front fits where the first was written');
  assert.notDeepEqual(front, frontAsWritten, 'the tag is filled in at the end');
  const blob = Buffer.concat([front, ...body]);
  assert.deepEqual(open(keyLookup(k), blob, Buffer.from('snap:4:1')), Buffer.concat(pieces));
  assert.throws(() => open(keyLookup(k), Buffer.concat([frontAsWritten, ...body]), Buffer.from('snap:4:1')), /does not authenticate/, 'the front without its tag does not open');
  assert.throws(() => open(keyLookup(k), blob, Buffer.from('snap:4:2')), /does not authenticate/);
});
