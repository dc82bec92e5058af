import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

// A burst in a process of its own (a V8 flag set stays set): a store-like structure of `keep` objects
// kept live, and short-lived objects allocated fast beside it, some living long enough to be promoted, as
// a leader's create does. It prints the old generation's largest committed size, what a full collection
// keeps at the end, and the percent HeapGrowth had set.
const BURST = `
const v8 = require('node:v8');
const [percent, keepCount] = process.argv.slice(1).map(Number);
const { HeapGrowth } = require(${JSON.stringify(path.join(__dirname, 'heap-growth.js'))});
const growth = new HeapGrowth(percent);
growth.start();
const old = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
const keep = [];
for (let i = 0; i < keepCount; i++) keep.push({ i, name: 'task-' + i, slots: [i, i + 1, i + 2] });
let recent = [];
let peak = 0;
(async () => {
  for (let round = 0; round < 3000; round++) {
    for (let i = 0; i < 2000; i++) recent.push({ round, i, name: 'report-' + i, at: [round, i] });
    if (recent.length > 40000) recent = recent.slice(20000);
    if (round % 10 === 0) peak = Math.max(peak, old().space_size);
    // the observer hears of a collection in a later turn, as the daemon's loop gives it one
    if (round % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  recent = [];
  globalThis.gc();
  console.log(JSON.stringify({ peak, live: old().space_used_size, kept: keep.length, percent: growth.percent }));
})();
`;

function burst(percent: number, keepCount: number, v8Flags: string[] = []): { peak: number; live: number; percent: number } {
  const out = execFileSync(process.execPath, ['--expose-gc', ...v8Flags, '-e', BURST, String(percent), String(keepCount)], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out) as { peak: number; live: number; percent: number };
}

const MiB = 1024 * 1024;

// The factor applies to what each full collection kept, which mid-burst includes the burst's promoted
// objects, and the old generation's committed pages count their fragmentation: so the bound is on the
// whole committed old generation against what stays live, with room for both (and for V8's own factor
// before the first full collection that saw 64 MiB). Measured on this machine with 90 MiB live, six
// bursts each: 2.7–3.0× with 50 %, 5.5–6.9× with V8's own factor.
const BOUND = 4;

// The control shows that the burst itself can go past the bound when the growth is not held: the same burst
// with a factor set outright well past the bound (6×). Not V8's own choice, which depends on how fast the collector
// ran against the program (under load it chose 3.6× once, beside a CI clone), nor V8's largest (4×), which also
// peaked at 3.6× once in the parallel unit suite: a fixed factor near the bound does not separate the two either.
// At 6× it peaked at 7.1–8.2× live, quiet and beside three busy processes.
const PAST_THE_BOUND = ['--heap-growing-percent=500'];

test('a heap past 64 MiB live: with 50 % its old generation stays within 4× what stays live, where a larger factor goes past it', () => {
  const set = burst(50, 600_000);
  assert.equal(set.percent, 50, 'the growth was set');
  assert.ok(set.peak <= BOUND * set.live, `old generation peaked at ${Math.round(set.peak / MiB)} MiB for ${Math.round(set.live / MiB)} MiB live`);
  // the same burst without HeapGrowth, growing by a factor past the bound: the setting, not the burst, is what held it
  const unheld = burst(0, 600_000, PAST_THE_BOUND);
  assert.equal(unheld.percent, 0);
  assert.ok(unheld.peak > BOUND * unheld.live, `a 6× factor peaked at ${Math.round(unheld.peak / MiB)} MiB for ${Math.round(unheld.live / MiB)} MiB live: this burst does not tell the two apart`);
});

test('a heap under 64 MiB live keeps V8\'s own factor', () => {
  const small = burst(50, 150_000);
  assert.ok(small.live < 64 * MiB, `${Math.round(small.live / MiB)} MiB live`);
  assert.equal(small.percent, 0);
});
