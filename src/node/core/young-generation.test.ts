import assert from 'node:assert/strict';
import { test } from 'node:test';
import { YoungGenerationPolicy } from './young-generation';

const S = { growBusy: 0.2, quietBusy: 0.05, quietMs: 30_000 };

/** Feeds one sample every 5 s from `fromMs`; returns the changes, as [atMs, mode]. */
function run(p: YoungGenerationPolicy, fromMs: number, busy: number[]): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  busy.forEach((b, i) => {
    const change = p.observe(fromMs + i * 5_000, b);
    if (change) out.push([fromMs + i * 5_000, change]);
  });
  return out;
}

test('growth is held from the start, and a quiet or lightly loaded daemon keeps it held', () => {
  const p = new YoungGenerationPolicy(S);
  assert.equal(p.mode, 'held');
  assert.deepEqual(run(p, 0, [0.01, 0.1, 0.19, 0.0, 0.04]), []);
  assert.equal(p.mode, 'held');
});

test('a busy sample lets it grow at once; only a quiet spell of quietMs holds it again', () => {
  const p = new YoungGenerationPolicy(S);
  assert.deepEqual(run(p, 0, [0.02, 0.6]), [[5_000, 'growing']]);
  // 25 s of quiet, then a moderately loaded sample: the quiet spell starts over
  assert.deepEqual(run(p, 10_000, [0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.1]), []);
  // 30 s of quiet from 45 s on: held at 75 s
  assert.deepEqual(run(p, 45_000, [0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01]), [[75_000, 'held']]);
  assert.deepEqual(run(p, 85_000, [0.9, 0.9]), [[85_000, 'growing']], 'and grows again under load');
});
