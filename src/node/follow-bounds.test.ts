// Follow streams hold a bounded amount for a reader that stops reading: service logs pause their
// sources (backpressure), events drop the reader with a message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { immediateStore } from '../store/testing/immediate';
import { nodeFixture, taskFixture } from '../testing/fixtures';
import type { LogLine } from '../agent/executor/types';
import { EventLog, MAX_PENDING_EVENTS } from './events';
import { LOG_HIGH_WATER_BYTES, mergeLogStreams } from './logs';

/** Lets queued callbacks and I/O run `n` times (a bounded wait for work that would run by itself). */
async function settle(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

test('service logs: a source is paused while the reader does not read (backpressure)', async () => {
  const line = Buffer.alloc(16 * 1024, 'x');
  let pulled = 0;
  async function* endless(signal: AbortSignal): AsyncGenerator<LogLine> {
    for (let i = 0; i < 100_000 && !signal.aborted; i++) {
      pulled += line.length;
      yield { stream: 'stdout', time: i, data: line };
    }
  }
  const ac = new AbortController();
  const it = mergeLogStreams({
    tasks: () => [taskFixture({ ID: 't1', NodeID: 'n1' })],
    open: (_t, s) => endless(s),
    follow: true,
    signal: ac.signal,
  })[Symbol.asyncIterator]();
  assert.equal((await it.next()).value?.data.length, line.length);
  await settle(200);
  assert.ok(pulled <= LOG_HIGH_WATER_BYTES + 2 * line.length, `pulled ${pulled} bytes for a reader that took one line`);
  // reading again resumes the source
  const before = pulled;
  for (let i = 0; i < 100; i++) await it.next();
  await settle();
  assert.ok(pulled > before, 'the source goes on once the reader reads');
  ac.abort();
  await it.return?.(undefined);
});

test('events: a reader that stops reading is dropped with a message, its queue freed', async () => {
  const store = immediateStore();
  let dropped = 0;
  const log = new EventLog({ warn: () => dropped++, error: () => undefined });
  log.attach(store);
  const ac = new AbortController();
  const it = log.stream({ filters: {} }, ac.signal)[Symbol.asyncIterator]();
  const first = it.next();
  await store.update((tx) => tx.create('node', nodeFixture({ ID: 'n0' })));
  assert.equal((await first).value?.Actor.ID, 'n0');
  // the reader stops; the store goes on
  for (let i = 1; i <= MAX_PENDING_EVENTS + 10; i++) await store.update((tx) => tx.create('node', nodeFixture({ ID: `n${i}` })));
  await settle();
  assert.equal(dropped, 1, 'the drop is reported (the daemon logs it)');
  await assert.rejects(it.next(), /reader too slow/);
  ac.abort();
});
