import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectGarbage } from '../testing/gc';
import { answerEach } from './stream-calls';

test('answerEach answers each message in order, and keeps neither the message nor its answer while it waits for the next', async () => {
  let sent: WeakRef<object> | undefined;
  let answered: WeakRef<object> | undefined;
  let given = 0;
  // one large message (a node's batch of status reports), then nothing more for a while
  const reqs: AsyncIterable<{ pad: string; n: number }> = {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        if (given++ > 0) return new Promise(() => undefined);
        const m = { pad: 'x'.repeat(1 << 20), n: 1 };
        sent = new WeakRef(m);
        return Promise.resolve({ value: m, done: false });
      },
    }),
  };
  const it = answerEach(reqs, async (m) => {
    const a = { ok: m.n, pad: 'y'.repeat(1 << 20) };
    answered = new WeakRef(a);
    return a;
  })[Symbol.asyncIterator]();
  assert.equal(((await it.next()).value as { ok: number }).ok, 1);
  void it.next(); // waiting for the next message
  await collectGarbage();
  assert.equal(sent?.deref(), undefined, 'the answered message is still held');
  assert.equal(answered?.deref(), undefined, 'the taken answer is still held');
});

test('answerEach: the source ends, the answers end; what `one` throws ends them with it', async () => {
  const from = (xs: number[]): AsyncIterable<number> => ({
    async *[Symbol.asyncIterator]() {
      yield* xs;
    },
  });
  const out: number[] = [];
  for await (const a of answerEach(from([1, 2, 3]), async (x) => x * 10)) out.push(a);
  assert.deepEqual(out, [10, 20, 30]);
  await assert.rejects(
    (async () => {
      for await (const _ of answerEach(from([1, 2]), async (x) => (x === 2 ? Promise.reject(new Error('refused')) : x))) void _;
    })(),
    /refused/,
  );
});
