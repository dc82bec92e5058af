import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, forEachGuarded, LoopGuard, runInBackground } from './loop-guard';

function capture() {
  const lines: { obj: { err?: unknown; loop?: string; pauseMs?: number }; msg?: string }[] = [];
  return { log: { error: (obj: unknown, msg?: string) => void lines.push({ obj: obj as never, msg }) }, lines };
}

async function* items(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

test('a step that throws is logged with its stack and the loop goes on with the next item', async () => {
  const { log, lines } = capture();
  const seen: number[] = [];
  await forEachGuarded(
    items(5),
    (i) => {
      if (i === 1 || i === 2) throw new Error(`boom ${i}`);
      seen.push(i);
    },
    { name: 'test loop', log, minMs: 1, maxMs: 4 },
  );
  assert.deepEqual(seen, [0, 3, 4], 'the loop survived two failures');
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!.obj.loop, 'test loop');
  assert.match((lines[0]!.obj.err as Error).stack ?? '', /boom 1/);
  assert.deepEqual(
    lines.map((l) => l.obj.pauseMs),
    [1, 2],
    'the pause doubles while failures go on',
  );
});

test('backoff doubles to its bound and starts over after a success', () => {
  const b = new Backoff(100, 1000);
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
  b.reset();
  assert.equal(b.next(), 100);
});

test('a guard step reports success; an async throw counts as a failure', async () => {
  const { log, lines } = capture();
  const g = new LoopGuard({ name: 'g', log, minMs: 1 });
  assert.equal(await g.step(() => undefined), true);
  assert.equal(await g.step(async () => Promise.reject(new Error('async boom'))), false);
  assert.equal(lines.length, 1);
});

test('runInBackground logs a rejection instead of leaving it unhandled', async () => {
  const { log, lines } = capture();
  let unhandled = 0;
  const onUnhandled = () => void unhandled++;
  process.on('unhandledRejection', onUnhandled);
  try {
    runInBackground('bg', Promise.reject(new Error('bg boom')), log);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  assert.equal(unhandled, 0);
  assert.equal(lines.length, 1);
  assert.match(String((lines[0]!.obj.err as Error).message), /bg boom/);
});
