import { test } from 'node:test';
import assert from 'node:assert/strict';
import { untilAborted } from './until-aborted';
import { AsyncQueue } from '../rpc/queue';
import { collectGarbage } from '../testing/gc';

test('untilAborted: the values in order, the end when the source ends', async () => {
  const q = new AsyncQueue<number>();
  [1, 2, 3].forEach((n) => q.push(n));
  q.end();
  const seen: number[] = [];
  for await (const n of untilAborted(q, new AbortController().signal)) seen.push(n);
  assert.deepEqual(seen, [1, 2, 3]);
});

test('untilAborted: an abort ends a wait the source never answers, and closes the source', async () => {
  let closed = false;
  const silent: AsyncIterable<number> = {
    [Symbol.asyncIterator]: () => ({
      next: () => new Promise<IteratorResult<number>>(() => undefined),
      return: async () => {
        closed = true;
        return { done: true, value: undefined };
      },
    }),
  };
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 20);
  for await (const _ of untilAborted(silent, ac.signal)) assert.fail('nothing was sent');
  assert.equal(closed, true);
});

// With one abort promise for the whole iteration (the agent's `until` before), every value taken stayed held
// until the iteration ended: the test failed with all three values alive.
test('untilAborted: a value taken is not held once the next is asked for, while the source stays open', async () => {
  const q = new AsyncQueue<{ pad: string }>();
  const ac = new AbortController();
  const it = untilAborted(q, ac.signal)[Symbol.asyncIterator]();
  const refs: WeakRef<object>[] = [];
  // in a function of its own, whose frame is gone when it returns: the test's suspended frame holds none of them
  const takeThree = async () => {
    for (let i = 0; i < 3; i++) {
      const v = { pad: 'x'.repeat(1 << 16) + i };
      refs.push(new WeakRef(v));
      q.push(v);
      assert.equal(((await it.next()).value as { pad: string }).pad.length, (1 << 16) + 1);
    }
  };
  await takeThree();
  const pending = it.next(); // the generator waits for a fourth value: nothing of the three is its
  await collectGarbage();
  assert.deepEqual(refs.map((r) => r.deref() === undefined), [true, true, true]);
  ac.abort();
  assert.equal((await pending).done, true);
});
