import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import pino from 'pino';
import { HeapTrimmer } from './heap-trim';

const MiB = 1024 * 1024;
const held = () => {
  const h = v8.getHeapStatistics();
  return h.total_heap_size + h.external_memory;
};

test('a quiet process that left garbage behind gets a full collection, and its heap shrinks', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const trimmer = new HeapTrimmer(log, { sampleMs: 50, roundGapMs: 20, settings: { quietBusy: 0.9, quietMs: 100, minGrowthBytes: 16 * MiB, growthRatio: 0, minIntervalMs: 60_000, roundMinFreedBytes: 4 * MiB, maxRounds: 30 } });
  // the floor is the heap as the trimmer first sees it, before the burst
  trimmer.start();
  await new Promise((r) => setTimeout(r, 80));
  const before = held();
  // a burst: objects held while it lasts (so they reach the old generation), then all dropped at once
  let keep: unknown[] = [];
  for (let i = 0; i < 600_000; i++) keep.push({ i, s: `task-${i}`, a: [i] });
  keep = [];
  const grown = held();
  try {
    const deadline = Date.now() + 3_000;
    while (!lines.some((l) => l.msg?.toString().startsWith('heap trimmed')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  } finally {
    trimmer.stop();
  }
  const trim = lines.find((l) => l.msg?.toString().startsWith('heap trimmed'));
  assert.ok(trim, `no collection within 3 s (heap ${Math.round(before / MiB)} → ${Math.round(grown / MiB)} MiB)`);
  assert.ok((trim.afterMiB as number) < (trim.heldMiB as number) - 8, `the collection freed < 8 MiB: ${JSON.stringify(trim)}`);
  assert.ok(held() < grown - 8 * MiB, `held ${Math.round(held() / MiB)} MiB, grown to ${Math.round(grown / MiB)}`);
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the daemon global scope gets no gc function');
  assert.equal(lines.filter((l) => l.msg?.toString().startsWith('heap trimmed')).length, 1, 'one collection, not one per sample');
});

test('collectNow: one collection at the end of a burst when the heap holds enough, none below that', () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const trimmer = new HeapTrimmer(log);
  // below the threshold: nothing collected, nothing logged
  assert.equal(trimmer.collectNow('test', Number.MAX_SAFE_INTEGER), false);
  assert.equal(lines.length, 0);
  // a burst whose objects are all dead at its end, as a restore's decoding is
  let keep: unknown[] = [];
  for (let i = 0; i < 600_000; i++) keep.push({ i, s: `task-${i}`, a: [i] });
  keep = [];
  const grown = held();
  assert.equal(trimmer.collectNow('the burst ended', 0), true);
  assert.ok(held() < grown - 8 * MiB, `held ${Math.round(held() / MiB)} MiB, grown to ${Math.round(grown / MiB)}`);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.msg, 'heap collected: the burst ended');
  assert.ok((lines[0]!.afterMiB as number) < (lines[0]!.heldMiB as number), JSON.stringify(lines[0]));
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the daemon global scope gets no gc function');
});
