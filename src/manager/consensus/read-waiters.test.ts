import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadWaiters } from './read-waiters';
import { defaultRng, defaultTimers } from './options';

test('until: at once when applied, on the Ready that applies the index, rejected past the bound', async () => {
  const w = new ReadWaiters(defaultTimers, defaultRng);
  assert.equal(await w.until(5, 7, 1000), 7);
  const later = w.until(10, 7, 1000);
  w.ready([], 9);
  let settled = false;
  void later.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'applied 9 < 10');
  w.ready([], 10);
  assert.equal(await later, 10);
  await assert.rejects(w.until(20, 10, 10), /apply index wait timed out/);
});
