import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RelayBatcher } from './relay-batch';
import { ShoalError, unavailable } from '../../lib/errors';
import type { RelayedResult } from '../../rpc';

test('calls of one turn go in one batch; each caller gets its own answer or error, in order', async () => {
  const sent: number[][] = [];
  const b = new RelayBatcher<number, string>({
    intervalMs: 50,
    maxEntries: 100,
    send: async (entries) => {
      sent.push(entries);
      return entries.map((e): RelayedResult<string> => (e % 3 === 0 ? { err: { kind: 'NotFound', message: 'session invalid' } } : { ok: `answer ${e}` }));
    },
  });
  const deadline = Date.now() + 5000;
  const calls = [1, 2, 3, 4, 5, 6].map((n) => b.add(n, deadline).then((r) => r, (e: unknown) => e));
  const out = await Promise.all(calls);
  assert.deepEqual(sent, [[1, 2, 3, 4, 5, 6]]);
  assert.equal(out[0], 'answer 1');
  assert.equal(out[1], 'answer 2');
  assert.ok(out[2] instanceof ShoalError && out[2].kind === 'NotFound' && out[2].message === 'session invalid');
  assert.ok(out[5] instanceof ShoalError && out[5].kind === 'NotFound');
});

test('a full batch goes at once and the rest follows; a failed send fails every caller of its batch, as `failure` makes it', async () => {
  const sent: number[][] = [];
  let fail = false;
  const b = new RelayBatcher<number, number>({
    intervalMs: 20,
    maxEntries: 3,
    send: async (entries) => {
      sent.push(entries);
      if (fail) throw unavailable('no connection');
      return entries.map((e) => ({ ok: e * 10 }));
    },
    failure: (e) => new ShoalError('Unavailable', `relayed: ${(e as Error).message}`, 'no-leader'),
  });
  const deadline = Date.now() + 5000;
  assert.deepEqual(await Promise.all([1, 2, 3, 4, 5].map((n) => b.add(n, deadline))), [10, 20, 30, 40, 50]);
  assert.deepEqual(sent, [[1, 2, 3], [4, 5]]);
  fail = true;
  const errs = await Promise.all([6, 7].map((n) => b.add(n, deadline).then(() => null, (e: unknown) => e)));
  for (const e of errs) assert.ok(e instanceof ShoalError && e.reason === 'no-leader' && e.message === 'relayed: no connection');
});

test("a batch's timeout is its earliest caller's; an unknown error kind reads as Internal; a missing answer fails its caller", async () => {
  let timeout = 0;
  const b = new RelayBatcher<string, string>({
    intervalMs: 10,
    maxEntries: 10,
    send: async (entries, t) => {
      timeout = t;
      return [{ err: { kind: 'Bogus', message: 'x', reason: 'not-a-reason' } }].slice(0, entries.length - 1);
    },
  });
  const now = Date.now();
  const [a, c] = await Promise.all([b.add('a', now + 8000).catch((e: unknown) => e), b.add('c', now + 900).catch((e: unknown) => e)]);
  assert.ok(timeout > 0 && timeout <= 900, `timeout ${timeout}`);
  assert.ok(a instanceof ShoalError && a.kind === 'Internal' && a.reason === undefined);
  assert.ok(c instanceof ShoalError && c.kind === 'Internal' && /no result/.test(c.message));
});

test('gathering: calls that come within gatherMs of the first go in its batch, a lone call waits for them', async () => {
  const sent: [number, number[]][] = [];
  const t0 = Date.now();
  const b = new RelayBatcher<number, number>({
    intervalMs: 1,
    gatherMs: 200,
    maxEntries: 100,
    send: async (entries) => {
      sent.push([Date.now() - t0, entries]);
      return entries.map((e) => ({ ok: e }));
    },
  });
  const deadline = t0 + 5000;
  const calls: Promise<number>[] = [b.add(1, deadline)];
  for (const n of [2, 3]) {
    await new Promise((r) => setTimeout(r, 40));
    calls.push(b.add(n, deadline));
  }
  assert.deepEqual(await Promise.all(calls), [1, 2, 3]);
  // sent on the next turn (the default) each would be its own batch, at 0, 40 and 80 ms
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0]![1], [1, 2, 3]);
  assert.ok(sent[0]![0] >= 190, `the batch left ${sent[0]![0]} ms after its first call`);
});
