import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Slots } from './slots';

const turn = () => new Promise<void>((r) => setImmediate(r));

test('slots: at most the limit hold at once, the rest in order of arrival', async () => {
  const slots = new Slots(2);
  const order: number[] = [];
  const releases: Array<() => void> = [];
  const takers = [1, 2, 3, 4].map((n) =>
    slots.take().then((release) => {
      order.push(n);
      releases.push(release);
    }),
  );
  await turn();
  assert.deepEqual(order, [1, 2]);
  assert.equal(slots.taken, 2);
  assert.equal(slots.queued, 2);
  releases[1]!();
  releases[1]!(); // a second call gives nothing back twice
  await turn();
  assert.deepEqual(order, [1, 2, 3]);
  assert.equal(slots.taken, 2);
  releases[0]!();
  await turn();
  assert.deepEqual(order, [1, 2, 3, 4]);
  releases[2]!();
  releases[3]!();
  await Promise.all(takers);
  assert.equal(slots.taken, 0);
  assert.equal(slots.queued, 0);
});

test('slots: a waiter that gives up leaves the line and never holds a slot', async () => {
  const slots = new Slots(1);
  const first = await slots.take();
  const ac = new AbortController();
  const gaveUp = slots.take(ac.signal);
  const next = slots.take();
  ac.abort(new Error('gone'));
  await assert.rejects(gaveUp, /gone/);
  assert.equal(slots.queued, 1);
  first();
  const release = await next;
  assert.equal(slots.taken, 1);
  release();
  assert.equal(slots.taken, 0);
  await assert.rejects(slots.take(AbortSignal.abort(new Error('already'))), /already/);
  assert.equal(slots.taken, 0);
});

test('slots: a limit below one is refused', () => {
  assert.throws(() => new Slots(0), /at least 1/);
});
