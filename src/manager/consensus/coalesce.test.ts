import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry, Message } from '../../raft';
import { coalesceMessages } from './coalesce';

const e = (index: number, term = 2): Entry => ({ index, term, type: 'normal', data: new Uint8Array([index]) });
const app = (to: number, index: number, logTerm: number, ents: Entry[], commit: number): Message => ({ type: 'app', from: 1, to, term: 2, index, logTerm, entries: ents, commit });

test('coalesce: contiguous appends per peer merge, commit is the largest; others keep their place', () => {
  const out = coalesceMessages([
    app(2, 5, 1, [e(6)], 4),
    app(3, 5, 1, [e(6)], 4),
    app(2, 6, 2, [e(7)], 5),
    app(2, 7, 2, [], 6), // commit-only append
    { type: 'heartbeat', from: 1, to: 3, term: 2, commit: 4 },
    app(3, 6, 2, [e(7)], 5), // after a heartbeat: not merged across it
    app(2, 9, 2, [e(10)], 6), // a gap: not merged
  ]);
  assert.deepEqual(
    out.map((m) => [m.type, m.to, m.index, m.entries?.map((x) => x.index), m.commit]),
    [
      ['app', 2, 5, [6, 7], 6],
      ['app', 3, 5, [6], 4],
      ['heartbeat', 3, undefined, undefined, 4],
      ['app', 3, 6, [7], 5],
      ['app', 2, 9, [10], 6],
    ],
  );
});

test('coalesce: successive successful acks collapse into the last; rejects and other terms stay', () => {
  const ack = (index: number, extra: Partial<Message> = {}): Message => ({ type: 'appResp', from: 2, to: 1, term: 2, index, ...extra });
  const out = coalesceMessages([ack(5), ack(7), ack(9), ack(3, { reject: true, rejectHint: 3 }), ack(10), ack(11, { term: 3 })]);
  assert.deepEqual(
    out.map((m) => [m.index, !!m.reject, m.term]),
    [
      [9, false, 2],
      [3, true, 2],
      [10, false, 2],
      [11, false, 3],
    ],
  );
});

test('coalesce: appends of another term or not continuing the last entry stay apart', () => {
  const out = coalesceMessages([app(2, 5, 1, [e(6)], 4), { ...app(2, 6, 2, [e(7, 3)], 5), term: 3 }, app(2, 6, 1, [e(7)], 5)]);
  assert.equal(out.length, 3);
});
