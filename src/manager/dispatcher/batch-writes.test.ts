import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../store';
import type { Change } from '../../store';
import { nodeFixture, taskFixture } from '../../testing/fixtures';
import { DispatcherBatchWrites, MAX_WRITE_WEIGHT } from './batch-writes';

/** A store that commits every proposal at once and records how many objects each one changed; `failAt` refuses that proposal. */
function recordingStore(failAt?: number) {
  const sizes: number[] = [];
  let index = 0;
  const store: MemoryStore = new MemoryStore({
    propose: async (changes: Change[]) => {
      sizes.push(changes.length);
      if (sizes.length === failAt) throw new Error('refused');
      store.applyCommitted(++index, changes);
    },
  });
  return { store, sizes };
}

const clock = { now: () => 1_000_000 };
const running = (taskId: string) => ({ taskId, status: { Timestamp: '', State: 'running' as const, Message: 'started' } });

async function seed(store: MemoryStore, nodes: number, tasksPerNode: number): Promise<void> {
  await store.update((tx) => {
    for (let n = 0; n < nodes; n++) {
      tx.create('node', nodeFixture({ ID: `n${n}`, Status: { State: 'ready', Addr: '' } }));
      for (let k = 0; k < tasksPerNode; k++) tx.create('task', taskFixture({ ID: `t${n}-${k}`, NodeID: `n${n}`, Status: { Timestamp: '', State: 'starting', Message: '' } }));
    }
  });
}

test('a burst larger than one write goes out in several bounded writes, and every call settles once all its reports are written', async () => {
  const { store, sizes } = recordingStore();
  await seed(store, 300, 4);
  sizes.length = 0;
  const w = new DispatcherBatchWrites({ store, clock, batchMs: 1_000, hasSession: () => false });
  // 300 nodes report 4 tasks each and then go down: 1,200 reports and 300 down marks pile up
  const calls = Array.from({ length: 300 }, (_, n) => w.reportStatus(`n${n}`, [0, 1, 2, 3].map((k) => running(`t${n}-${k}`))));
  const downs = Array.from({ length: 300 }, (_, n) => w.markDown(`n${n}`, 'heartbeat failure'));
  await w.flush();
  await Promise.all([...calls, ...downs]);
  // each write within the budget (a node weighs 4, a task 1), all of them written
  assert.ok(sizes.length > 1, `one write of ${sizes[0]} objects`);
  for (const n of sizes) assert.ok(n <= MAX_WRITE_WEIGHT, `a write of ${n} objects`);
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    1500,
  );
  assert.equal(store.read((tx) => tx.find('task', (t) => t.Status.State === 'running').length), 1200);
  assert.equal(store.read((tx) => tx.find('node', (n) => n.Status.State === 'down').length), 300);
});

test('a call whose reports span a failed write and a written one is rejected', async () => {
  // the first proposal is refused: the down marks in it are only logged, the reports in it fail their calls
  const { store, sizes } = recordingStore(2);
  await seed(store, 1, 600);
  const w = new DispatcherBatchWrites({ store, clock, batchMs: 1_000, hasSession: () => false });
  const call = w.reportStatus('n0', Array.from({ length: 600 }, (_, k) => running(`t0-${k}`)));
  const settled = call.then(
    () => 'resolved',
    (e: Error) => e.message,
  );
  await w.flush();
  assert.equal(await settled, 'refused');
  assert.deepEqual(sizes.slice(1), [MAX_WRITE_WEIGHT, 600 - MAX_WRITE_WEIGHT]);
  // the part that was written is in the store, the refused part is not
  assert.equal(store.read((tx) => tx.find('task', (t) => t.Status.State === 'running').length), 600 - MAX_WRITE_WEIGHT);
});
