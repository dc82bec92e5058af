import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deframe, Demuxer, frame } from './stdstream';

test('frame writes the 8-byte header: stream type, three zeros, big-endian length', () => {
  assert.deepEqual([...frame('stderr', Buffer.from('ab'))], [2, 0, 0, 0, 0, 0, 0, 2, 0x61, 0x62]);
  assert.deepEqual([...frame('stdin', Buffer.alloc(0))], [0, 0, 0, 0, 0, 0, 0, 0]);
});

test('deframe returns whole frames and keeps a partial one as rest', () => {
  const both = Buffer.concat([frame('stdout', Buffer.from('out\n')), frame('stderr', Buffer.from('err\n'))]);
  const { frames, rest } = deframe(both.subarray(0, both.length - 2));
  assert.deepEqual(frames.map((f) => [f.stream, f.data.toString()]), [[1, 'out\n']]);
  assert.equal(rest.length, 8 + 4 - 2);
});

test('Demuxer reassembles frames split at every byte, empty frames included', () => {
  const all = Buffer.concat([frame('stdout', Buffer.from('hello\n')), frame('stdout', Buffer.alloc(0)), frame('stderr', Buffer.from('x'.repeat(300)))]);
  const d = new Demuxer();
  const got: [number, string][] = [];
  for (let i = 0; i < all.length; i++) for (const f of d.push(all.subarray(i, i + 1))) got.push([f.stream, f.data.toString()]);
  assert.deepEqual(got, [[1, 'hello\n'], [1, ''], [2, 'x'.repeat(300)]]);
  assert.equal(d.pending, 0);
});
