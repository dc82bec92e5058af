import assert from 'node:assert/strict';
import { test } from 'node:test';
import { immediateStore } from './testing/immediate';
import { taskFixture } from '../testing/fixtures';

test('a store timer sees every read and write transaction with the time its own clock gives; none once removed', async () => {
  const store = immediateStore();
  let clock = 0;
  const reads: number[] = [];
  const writes: number[] = [];
  store.setTimer({ now: () => clock, readTx: (ms) => reads.push(ms), writeTx: (ms) => writes.push(ms) });
  await store.update((tx) => {
    clock += 7;
    tx.create('task', taskFixture({ ID: 't1' }));
  });
  const n = store.read((tx) => {
    clock += 3;
    return tx.find('task').length;
  });
  store.view((tx) => tx.get('task', 't1'));
  assert.equal(n, 1);
  assert.deepEqual(writes, [7]);
  assert.deepEqual(reads, [3, 0]);
  store.setTimer(undefined);
  store.read((tx) => tx.find('task'));
  assert.equal(reads.length, 2);
});
