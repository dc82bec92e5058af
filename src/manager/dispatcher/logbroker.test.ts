import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AsyncQueue } from '../../rpc/queue';
import type { LogSubscriptionMessage, PublishLogsMessage } from '../../rpc/protocol';
import { LogBroker, MAX_SUBSCRIPTION_BACKLOG_BYTES, type BrokerLogLine } from './logbroker';

const line = (taskId: string, time: number, text: string) => ({ taskId, serviceId: 's', nodeId: 'n1', stream: 'stdout' as const, time, data: new TextEncoder().encode(text) });

async function collect(it: AsyncIterable<BrokerLogLine>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of it) out.push(l.data.toString());
  return out;
}

async function first<T>(it: AsyncIterable<T>): Promise<T> {
  for await (const v of it) return v;
  throw new Error('ended');
}

test('a subscription reaches the listening node; its lines and close marker end the stream', async () => {
  const b = new LogBroker();
  const listen = new AbortController();
  const subs = b.listen('n1', listen.signal)[Symbol.asyncIterator]();
  const lines = collect(b.subscribe('n1', ['t1'], { follow: false, tail: 'all', timestamps: false }, new AbortController().signal));
  const sub = (await subs.next()).value as LogSubscriptionMessage;
  assert.deepEqual(sub.taskIds, ['t1']);
  const pub = new AsyncQueue<PublishLogsMessage>();
  const done = b.publish('n1', pub);
  pub.push({ subscriptionId: sub.id, lines: [line('t1', 1, 'a\n'), line('other', 2, 'x\n'), line('t1', 3, 'b\n')] });
  pub.push({ subscriptionId: sub.id, lines: [], close: true });
  pub.end();
  await done;
  assert.deepEqual(await lines, ['a\n', 'b\n'], 'lines of other tasks are dropped');
  assert.equal(b.size, 0);
  listen.abort();
});

test('another node cannot publish for a subscription', async () => {
  const b = new LogBroker();
  const subs = b.listen('n1', new AbortController().signal);
  void b.subscribe('n1', ['t1'], { follow: true, tail: 'all', timestamps: false }, new AbortController().signal);
  const sub = await first(subs);
  const pub = new AsyncQueue<PublishLogsMessage>();
  pub.push({ subscriptionId: sub.id, lines: [] });
  pub.end();
  await assert.rejects(b.publish('n2', pub), /not for node n2/);
});

test('follow: cancelling tells the node; a publisher lost without close is re-delivered from the last line', async () => {
  const b = new LogBroker();
  const l1 = new AbortController();
  const subs1 = b.listen('n1', l1.signal)[Symbol.asyncIterator]();
  const cancel = new AbortController();
  const got: string[] = [];
  const reading = (async () => {
    for await (const l of b.subscribe('n1', ['t1'], { follow: true, tail: 'all', timestamps: false }, cancel.signal)) got.push(l.data.toString());
  })();
  const sub = (await subs1.next()).value as LogSubscriptionMessage;
  const pub = new AsyncQueue<PublishLogsMessage>();
  const p1 = b.publish('n1', pub);
  pub.push({ subscriptionId: sub.id, lines: [line('t1', 10, 'a\n'), line('t1', 20, 'b\n')] });
  pub.end(); // connection lost
  await p1;
  l1.abort();
  const subs2 = b.listen('n1', new AbortController().signal)[Symbol.asyncIterator]();
  const again = (await subs2.next()).value as LogSubscriptionMessage;
  assert.equal(again.id, sub.id);
  assert.equal(again.options.since, 0.02);
  const pub2 = new AsyncQueue<PublishLogsMessage>();
  const p2 = b.publish('n1', pub2);
  pub2.push({ subscriptionId: sub.id, lines: [line('t1', 20, 'b\n'), line('t1', 30, 'c\n')] });
  await new Promise((r) => setImmediate(r));
  cancel.abort();
  const closeMsg = (await subs2.next()).value as LogSubscriptionMessage;
  assert.equal(closeMsg.close, true);
  pub2.end();
  await p2;
  await reading;
  assert.deepEqual(got, ['a\n', 'b\n', 'c\n'], 'no duplicate after re-delivery');
});

test('a plain subscription for a node that never listens ends', async () => {
  const b = new LogBroker({ connectWaitMs: 20 });
  const keepAlive = setInterval(() => undefined, 1000); // the broker's timers do not hold the process
  try {
    assert.deepEqual(await collect(b.subscribe('gone', ['t1'], { follow: false, tail: 'all', timestamps: false }, new AbortController().signal)), []);
  } finally {
    clearInterval(keepAlive);
  }
});

test('a follow reader that stops reading is dropped with a message once its backlog passes the bound; the node is told to stop', async () => {
  const b = new LogBroker();
  const listen = new AbortController();
  const subs = b.listen('n1', listen.signal)[Symbol.asyncIterator]();
  const it = b.subscribe('n1', ['t1'], { follow: true, tail: 'all', timestamps: false }, new AbortController().signal)[Symbol.asyncIterator]();
  const sub = (await subs.next()).value as LogSubscriptionMessage;
  const pub = new AsyncQueue<PublishLogsMessage>();
  const done = b.publish('n1', pub);
  const chunk = 'x'.repeat(64 * 1024);
  // the reader takes one line, then stops reading while the node keeps publishing
  pub.push({ subscriptionId: sub.id, lines: [line('t1', 1, chunk)] });
  assert.equal((await it.next()).value?.data.length, chunk.length);
  const total = (2 * MAX_SUBSCRIPTION_BACKLOG_BYTES) / chunk.length;
  for (let i = 0; i < total; i++) pub.push({ subscriptionId: sub.id, lines: [line('t1', 2 + i, chunk)] });
  pub.end();
  await done;
  assert.equal(b.size, 0, 'the subscription is gone');
  const stop = (await subs.next()).value as LogSubscriptionMessage;
  assert.equal(stop.close, true, 'the node is told to stop publishing');
  // what was queued stays within the bound, then the stream fails with the reason
  let bytes = 0;
  await assert.rejects(
    (async () => {
      for (let r = await it.next(); !r.done; r = await it.next()) bytes += r.value.data.length;
    })(),
    /reader too slow/,
  );
  assert.ok(bytes <= MAX_SUBSCRIPTION_BACKLOG_BYTES + chunk.length, `backlog ${bytes} bytes`);
  listen.abort();
});
