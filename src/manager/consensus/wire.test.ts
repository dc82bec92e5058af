import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MESSAGE_TYPES, type Message } from '../../raft';
import { decodeBatch, encodeBatch, encodeStreamBatch, raftStreamCodec } from './wire';

const big = 2 ** 47 + 12345; // raft IDs are 48-bit

test('wire: every message shape round-trips, bytes included', () => {
  const msgs: Message[] = [
    { type: 'snap', from: big, to: 2, term: 3, snapshot: { metadata: { index: 10, term: 2, confState: { voters: [1, 2, big] } }, data: new Uint8Array([1, 2, 3]) } },
    {
      type: 'app',
      from: 1,
      to: big,
      term: 3,
      logTerm: 2,
      index: 5,
      commit: 4,
      entries: [
        { index: 6, term: 3, type: 'conf', data: new Uint8Array([9, 9]) },
        { index: 7, term: 3, type: 'normal', data: new Uint8Array(0) },
      ],
    },
    { type: 'app', from: 1, to: 2, term: 3, logTerm: 0, index: 0, commit: 0, entries: [] },
    { type: 'appResp', from: 1, to: 2, term: 3, index: 5, reject: true, rejectHint: 4, logTerm: 1 },
    { type: 'heartbeat', from: 1, to: 2, term: 3, commit: 7, context: new Uint8Array([7, 8]) },
    ...MESSAGE_TYPES.map((type): Message => ({ type, from: 4, to: 5, term: 0 })),
  ];
  const out = decodeBatch(encodeBatch(msgs));
  assert.equal(out.length, msgs.length);
  for (const [i, m] of msgs.entries()) {
    const o = out[i]!;
    assert.deepEqual({ ...o, entries: o.entries?.map((e) => ({ ...e, data: [...e.data] })), snapshot: o.snapshot && { ...o.snapshot, data: [...o.snapshot.data] }, context: o.context && [...o.context] }, {
      ...m,
      entries: m.entries?.map((e) => ({ ...e, data: [...e.data] })),
      snapshot: m.snapshot && { ...m.snapshot, data: [...m.snapshot.data] },
      context: m.context && [...m.context],
    });
  }
  assert.deepEqual(decodeBatch(encodeBatch([])), []);
});

test('wire: a truncated batch is refused', () => {
  const b = encodeBatch([{ type: 'app', from: 1, to: 2, term: 3, entries: [{ index: 1, term: 1, type: 'normal', data: new Uint8Array(10) }] }]);
  assert.throws(() => decodeBatch(b.subarray(0, b.length - 3)), /truncated/);
});

test('wire: the stream codec frames a batch and an ack, error text included', () => {
  const b = encodeBatch([{ type: 'app', from: 1, to: 2, term: 3, index: 4, logTerm: 3, commit: 4, entries: [{ index: 5, term: 3, type: 'normal', data: new Uint8Array([7, 8]) }] }]);
  const n = 2 ** 40 + 3; // counts batches per stream: past u32
  const got = raftStreamCodec.req.deserialize(raftStreamCodec.req.serialize({ n, b }));
  assert.equal(got.n, n);
  assert.deepEqual(decodeBatch(got.b), decodeBatch(b));
  assert.deepEqual(raftStreamCodec.res.deserialize(raftStreamCodec.res.serialize({ n: 9 })), { n: 9 });
  assert.deepEqual(raftStreamCodec.res.deserialize(raftStreamCodec.res.serialize({ n: 9, err: 'raft: member 3 was remové' })), { n: 9, err: 'raft: member 3 was remové' });
  assert.throws(() => raftStreamCodec.res.deserialize(Buffer.alloc(3)), /truncated/);
});

test('wire: a stream batch is encoded framed once and sent as it is, the same bytes as framing it afterwards', () => {
  const msgs = [{ type: 'app' as const, from: 1, to: 2, term: 3, index: 4, logTerm: 3, commit: 4, entries: [{ index: 5, term: 3, type: 'normal' as const, data: new Uint8Array([7, 8, 9]) }] }];
  const n = 2 ** 33 + 1;
  const m = encodeStreamBatch(n, msgs);
  const wire = raftStreamCodec.req.serialize(m);
  assert.equal(wire, m.framed, 'no copy: the codec hands over the framed buffer');
  assert.deepEqual([...wire], [...raftStreamCodec.req.serialize({ n, b: encodeBatch(msgs) })]);
  // `b` is the batch alone, as a plain byte array (the legacy JSON stream's base64 path needs one, not a Buffer)
  assert.equal(Object.getPrototypeOf(m.b), Uint8Array.prototype);
  assert.deepEqual(decodeBatch(m.b), decodeBatch(encodeBatch(msgs)));
  const got = raftStreamCodec.req.deserialize(wire);
  assert.equal(got.n, n);
  assert.deepEqual(decodeBatch(got.b), msgs.map((x) => ({ ...x })) as unknown);
});
