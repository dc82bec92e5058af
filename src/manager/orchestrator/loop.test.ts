// reconcilePasses: one plan, written in bounded writes; what changed between those writes is never
// overwritten, and the service is planned again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { immediateStore } from '../../store/testing/immediate';
import { isRunnable, newTask, replicasOf, type Task } from '../../types';
import { reconcilePasses, removeTasksOfDeletedServices } from './loop';
import { GlobalOrchestrator } from './global';
import { SeededRng } from '../../lib/ports';
import { waitFor } from '../../testing/wait';
import { MAX_TASKS_PER_WRITE } from '../../store';
import { reconcileReplicated } from './core/replicated';
import { mkNode, mkService } from './core/testkit';
import type { MemoryStore, WriteTx } from '../../store';

let seq = 0;
const decide = (tx: WriteTx, sid: string) => {
  const service = tx.get('service', sid);
  if (!service) return undefined;
  return reconcileReplicated({ service, tasks: tx.shared.tasksByService(sid), nodes: new Map(), now: 0, newId: () => `t${++seq}` });
};
const runnable = (store: MemoryStore, sid: string): Task[] => store.read((tx) => tx.tasksByService(sid, (t) => isRunnable(t.DesiredState)));

async function withService(replicas: number): Promise<{ store: MemoryStore; sid: string }> {
  const store = immediateStore();
  const s = mkService('web', { replicas });
  await store.update((tx) => {
    tx.create('node', mkNode('n1'));
    tx.create('service', s);
  });
  return { store, sid: s.ID };
}

test('one plan goes out in writes of MAX_TASKS_PER_WRITE', async () => {
  const { store, sid } = await withService(MAX_TASKS_PER_WRITE * 2 + 3);
  const sizes: number[] = [];
  const w = store.watch({ kinds: ['task'] });
  const again = await reconcilePasses(store, [sid], decide);
  const byIndex = new Map<number, number>();
  for (const e of w.drain()) byIndex.set(e.index, (byIndex.get(e.index) ?? 0) + 1);
  w.close();
  sizes.push(...byIndex.values());
  assert.deepEqual(sizes, [MAX_TASKS_PER_WRITE, MAX_TASKS_PER_WRITE, 3]);
  assert.deepEqual(again, []);
  assert.equal(runnable(store, sid).length, MAX_TASKS_PER_WRITE * 2 + 3);
});

test('a service changed between the writes of a plan: the rest of the plan is dropped and the service planned again', async () => {
  const { store, sid } = await withService(MAX_TASKS_PER_WRITE * 3);
  const pass = reconcilePasses(store, [sid], decide);
  // queued behind the plan's first write: a scale-down lands between its writes
  const scaled = store.update((tx) => {
    const s = tx.get('service', sid)!;
    s.Spec.Mode = { Replicated: { Replicas: 600 } };
    tx.update('service', s);
  });
  assert.deepEqual(await pass, [sid]);
  await scaled;
  assert.equal(runnable(store, sid).length, MAX_TASKS_PER_WRITE);
  assert.deepEqual(await reconcilePasses(store, [sid], decide), []);
  const service = store.read((tx) => tx.get('service', sid))!;
  assert.equal(runnable(store, sid).length, replicasOf(service));
});

test('a slot filled between the writes of a plan is not filled twice', async () => {
  const { store, sid } = await withService(MAX_TASKS_PER_WRITE * 2);
  const pass = reconcilePasses(store, [sid], decide);
  const taken = MAX_TASKS_PER_WRITE + 7;
  const other = store.update((tx) => tx.create('task', newTask({ id: 'other', service: tx.get('service', sid)!, slot: taken, now: 0 })));
  assert.deepEqual(await pass, [sid], 'the plan did not hold: planned again');
  await other;
  const inSlot = runnable(store, sid).filter((t) => t.Slot === taken);
  assert.deepEqual(inSlot.map((t) => t.ID), ['other']);
  assert.equal(runnable(store, sid).length, MAX_TASKS_PER_WRITE * 2);
  const slots = new Set(runnable(store, sid).map((t) => t.Slot));
  assert.equal(slots.size, MAX_TASKS_PER_WRITE * 2);
});

/** Task changes per store write (by Raft index) while `run` runs. */
async function writeSizes(store: MemoryStore, run: () => Promise<void>): Promise<number[]> {
  const w = store.watch({ kinds: ['task'] });
  await run();
  const byIndex = new Map<number, number>();
  for (const e of w.drain()) byIndex.set(e.index, (byIndex.get(e.index) ?? 0) + 1);
  w.close();
  return [...byIndex.values()];
}

test('a global service on more nodes than one write holds gets its tasks in bounded writes', async () => {
  const store = immediateStore();
  const nodes = MAX_TASKS_PER_WRITE * 2 + 5;
  await store.update((tx) => {
    for (let i = 0; i < nodes; i++) tx.create('node', mkNode(`n${i}`));
  });
  const orch = new GlobalOrchestrator({ store, clock: { now: () => 0 }, rng: new SeededRng(1) });
  orch.start();
  try {
    const sizes = await writeSizes(store, async () => {
      await store.update((tx) => tx.create('service', mkService('g', { global: true })));
      await waitFor('a task on every node', () => runnable(store, 'g').length === nodes);
    });
    assert.ok(sizes.every((n) => n <= MAX_TASKS_PER_WRITE), `write sizes ${sizes.join(', ')}`);
    assert.equal(new Set(runnable(store, 'g').map((t) => t.NodeID)).size, nodes);
  } finally {
    await orch.stop();
  }
});

test("a deleted service's tasks are marked for removal in bounded writes", async () => {
  const { store, sid } = await withService(MAX_TASKS_PER_WRITE * 2 + 5);
  await reconcilePasses(store, [sid], decide);
  await store.update((tx) => tx.delete('service', sid));
  const sizes = await writeSizes(store, () => removeTasksOfDeletedServices(store, [sid], () => 0));
  assert.deepEqual(sizes, [MAX_TASKS_PER_WRITE, MAX_TASKS_PER_WRITE, 5]);
  assert.equal(runnable(store, sid).length, 0);
});
