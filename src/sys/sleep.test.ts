import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleepUnlessAborted } from './sleep';

test('sleepUnlessAborted resolves after the delay without a signal', async () => {
  const t0 = Date.now();
  await sleepUnlessAborted(20);
  assert.ok(Date.now() - t0 >= 15);
});

test('sleepUnlessAborted resolves (does not reject) when aborted mid-sleep', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  const p = sleepUnlessAborted(60_000, ac.signal);
  ac.abort();
  await p;
  assert.ok(Date.now() - t0 < 30_000);
});

test('sleepUnlessAborted resolves at once with an already-aborted signal', async () => {
  const ac = new AbortController();
  ac.abort();
  const t0 = Date.now();
  await sleepUnlessAborted(60_000, ac.signal);
  assert.ok(Date.now() - t0 < 30_000);
});
