import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeConfChange, encodeConfChange, bytesEqual, ProposalDropped } from './types';
import { isKind } from '../lib/errors';

test('conf change round-trips, including large ids and context', () => {
  for (const cc of [
    { type: 'addNode' as const, nodeId: 1 },
    { type: 'removeNode' as const, nodeId: Number.MAX_SAFE_INTEGER },
    { type: 'addNode' as const, nodeId: 2 ** 40 + 7, context: new Uint8Array([1, 2, 3]) },
  ]) {
    const back = decodeConfChange(encodeConfChange(cc));
    assert.equal(back.type, cc.type);
    assert.equal(back.nodeId, cc.nodeId);
    assert.ok(bytesEqual(back.context, cc.context));
  }
});

test('conf change codec rejects bad input', () => {
  assert.throws(() => encodeConfChange({ type: 'addNode', nodeId: 0 }));
  assert.throws(() => encodeConfChange({ type: 'addNode', nodeId: 1.5 }));
  assert.throws(() => decodeConfChange(new Uint8Array(3)));
  const ok = encodeConfChange({ type: 'addNode', nodeId: 3 });
  const bad = ok.slice();
  bad[0] = 9;
  assert.throws(() => decodeConfChange(bad));
  assert.throws(() => decodeConfChange(new Uint8Array([...ok, 0])));
});

test('ProposalDropped is an Unavailable ShoalError', () => {
  assert.ok(isKind(new ProposalDropped('x'), 'Unavailable'));
});
