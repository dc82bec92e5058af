// What the store keeps beside its task table (CommittedTasks): nothing for services, nodes and slots
// whose tasks are gone, one empty labels object, tasks in place through status reports.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from './store';
import type { Change, StoreSnapshot } from './types';
import type { Service, Task } from '../types';
import { nodeFixture, taskFixture } from '../testing/fixtures';

/** A store applied as a manager's Ready loop applies it: every change list decoded from its bytes. */
function raftLikeStore(): MemoryStore {
  let index = 0;
  const decoded = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
  const store: MemoryStore = new MemoryStore({ propose: async (changes: Change[]) => store.applyCommitted(++index, decoded(changes)) }, { freezeCommitted: true });
  return store;
}

const task = (id: string, service: string, slot: number, nodeId?: string, state: Task['Status']['State'] = 'running'): Task =>
  taskFixture({ ID: id, ServiceID: service, Slot: slot, NodeID: nodeId, Status: { Timestamp: '', State: state, Message: '' }, internal: { specVersion: 1, serviceName: service } });
const service = (id: string): Service => ({ ID: id, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: { Name: id, TaskTemplate: {} }, Endpoint: {}, internal: { specVersion: 1 } }) as Service;
const ids = (ts: { ID: string }[]) => ts.map((t) => t.ID);
const NONE = { services: 0, nodes: 0, slots: 0, pendingServices: 0, countedServices: 0, loadedNodes: 0, sharedSpecs: 0, sharedInternals: 0 };

test('every index key goes with the last task under it: tasks moved off nodes and slots, a service scaled to 0, tasks deleted', async () => {
  const store = raftLikeStore();
  await store.update((tx) => {
    for (const n of ['n1', 'n2', 'n3']) tx.create('node', nodeFixture({ ID: n }));
    for (let slot = 1; slot <= 4; slot++) {
      tx.create('task', task(`a${slot}`, 's1', slot, 'n1'));
      tx.create('task', task(`old-a${slot}`, 's1', slot, 'n2', 'shutdown')); // the slot's history
    }
    tx.create('task', task('b1', 's2', 1, undefined, 'pending'));
  });
  assert.deepEqual(store.taskIndexSizes(), { services: 2, nodes: 2, slots: 5, pendingServices: 1, countedServices: 2, loadedNodes: 1, sharedSpecs: 2, sharedInternals: 2 });
  await store.update((tx) => {
    // moved: a task to another node and slot, the pending one assigned
    tx.update('task', { ...tx.get('task', 'a4')!, NodeID: 'n3', Slot: 1 });
    for (let slot = 1; slot <= 4; slot++) tx.delete('task', `old-a${slot}`);
    const b1 = tx.get('task', 'b1')!;
    tx.update('task', { ...b1, NodeID: 'n3', Status: { ...b1.Status, State: 'assigned' } });
  });
  assert.deepEqual(store.taskIndexSizes(), { services: 2, nodes: 2, slots: 4, pendingServices: 0, countedServices: 2, loadedNodes: 2, sharedSpecs: 2, sharedInternals: 2 }, 'n2, slot s1/4 and the pending set of s2 are gone');
  assert.deepEqual(store.read((tx) => ids(tx.tasksBySlot('s1', 1))), ['a1', 'a4']);
  // s1 scaled to 0: shut down (no longer counted), then deleted
  await store.update((tx) => {
    for (const t of tx.tasksByService('s1')) tx.update('task', { ...t, DesiredState: 'shutdown' });
  });
  assert.equal(store.taskIndexSizes().countedServices, 1);
  await store.update((tx) => {
    for (const t of tx.tasksByService('s1')) tx.delete('task', t.ID);
  });
  assert.deepEqual(store.taskIndexSizes(), { services: 1, nodes: 1, slots: 1, pendingServices: 0, countedServices: 1, loadedNodes: 1, sharedSpecs: 1, sharedInternals: 1 });
  await store.update((tx) => tx.delete('task', 'b1'));
  assert.deepEqual(store.taskIndexSizes(), NONE);
  assert.deepEqual(store.read((tx) => [tx.tasksByService('s1'), tx.tasksByNode('n1'), tx.tasksBySlot('s1', 1), tx.pendingTasks('s2')]), [[], [], [], []]);
});

test('a deleted service\'s shared spec stays while its tasks do, and goes with the last', async () => {
  const store = raftLikeStore();
  await store.update((tx) => {
    tx.create('service', service('s1'));
    for (const id of ['t1', 't2']) tx.create('task', task(id, 's1', 1, 'n1'));
  });
  await store.update((tx) => tx.delete('service', 's1'));
  assert.equal(store.taskIndexSizes().sharedSpecs, 1, 'the tasks still hold it');
  // a version with a spec of its own after the service is gone (it had been kept forever)
  await store.update((tx) => tx.update('task', { ...tx.get('task', 't1')!, Spec: { ContainerSpec: { Image: 'other' } } }));
  const [t1, t2] = store.read((tx) => [tx.get('task', 't1')!, tx.get('task', 't2')!]);
  assert.notEqual(t1.Spec, t2.Spec);
  assert.equal(t1.ServiceID, 's1');
  await store.update((tx) => {
    tx.delete('task', 't1');
    tx.delete('task', 't2');
  });
  assert.deepEqual(store.taskIndexSizes(), NONE);
});

test('decoded tasks share their internal part by service and with their old versions, unchanged in content; it goes with the service\'s last task', async () => {
  const store = raftLikeStore();
  const made = [task('t1', 's1', 1, 'n1'), task('t2', 's1', 2, 'n1'), { ...task('t3', 's1', 3, 'n1'), internal: { specVersion: 2, serviceName: 's1' } }];
  await store.update((tx) => made.forEach((t) => tx.create('task', t)));
  const read = () => store.read((tx) => ['t1', 't2', 't3'].map((id) => tx.get('task', id)!));
  const [t1, t2, t3] = read();
  assert.equal(t1!.internal, t2!.internal, 'equal: one object');
  assert.notEqual(t1!.internal, t3!.internal);
  assert.deepEqual(t3!.internal, { specVersion: 2, serviceName: 's1' });
  // a status report: the new version keeps the old one's internal part, its strings as they were sent
  const status = { Timestamp: '2026-12-06T04:00:00.000000001Z', State: 'running' as const, Message: 'started' };
  await store.update((tx) => tx.update('task', { ...tx.get('task', 't1')!, UpdatedAt: status.Timestamp, Status: status }));
  const [n1] = read();
  assert.equal(n1!.internal, t1!.internal);
  assert.deepEqual({ u: n1!.UpdatedAt, s: n1!.Status, d: n1!.DesiredState }, { u: status.Timestamp, s: status, d: 'running' });
  const [, r2, r3] = read();
  assert.deepEqual([r2, r3].map((t) => ({ ...t, Version: undefined })), [made[1], made[2]].map((t) => ({ ...t, Version: undefined })), 'the tasks as they were written');
  assert.equal(store.taskIndexSizes().sharedInternals, 1);
  await store.update((tx) => ['t1', 't2', 't3'].forEach((id) => tx.delete('task', id)));
  assert.equal(store.taskIndexSizes().sharedInternals, 0);
});

test('tasks without labels share one frozen empty object; readers that copy get their own', async () => {
  const store = raftLikeStore();
  await store.update((tx) => {
    tx.create('task', task('t1', 's1', 1, 'n1'));
    tx.create('task', { ...task('t2', 's1', 2, 'n1'), Labels: {} });
    tx.create('task', { ...task('t3', 's1', 3, 'n1'), Labels: { team: 'a' } });
  });
  const [t1, t2, t3] = store.read((tx) => ['t1', 't2', 't3'].map((id) => tx.get('task', id)!));
  assert.equal(t1!.Labels, t2!.Labels);
  assert.ok(Object.isFrozen(t1!.Labels));
  assert.deepEqual(t3!.Labels, { team: 'a' });
  const copy = store.view((tx) => tx.get('task', 't1')!);
  copy.Labels.x = 'y';
  await store.update((tx) => {
    const t = tx.get('task', 't2')!;
    t.Labels.team = 'b';
    tx.update('task', t);
  });
  assert.deepEqual(store.read((tx) => [tx.get('task', 't1')!.Labels, tx.get('task', 't2')!.Labels]), [{}, { team: 'b' }]);
});

test('a status report leaves a task in its place: tasksByService and tasksByNode keep their order', async () => {
  const store = raftLikeStore();
  await store.update((tx) => {
    for (const id of ['t1', 't2', 't3']) tx.create('task', task(id, 's1', Number(id.slice(1)), 'n1', 'starting'));
  });
  await store.update((tx) => {
    const t1 = tx.get('task', 't1')!;
    tx.update('task', { ...t1, Status: { ...t1.Status, State: 'running' } });
  });
  assert.deepEqual(store.read((tx) => [ids(tx.tasksByService('s1')), ids(tx.tasksByNode('n1'))]), [
    ['t1', 't2', 't3'],
    ['t1', 't2', 't3'],
  ]);
});

test('tasks decoded from the log, restored from a snapshot and updated again: indexes and counts as a scan finds them', async () => {
  const store = raftLikeStore();
  await store.update((tx) => {
    tx.create('service', service('s1'));
    for (const n of ['n1', 'n2']) tx.create('node', nodeFixture({ ID: n }));
    for (let i = 1; i <= 6; i++) tx.create('task', task(`t${i}`, 's1', i, i % 2 ? 'n1' : 'n2'));
  });
  // the node and the service leave before their tasks, whose IDs point at the strings they held
  await store.update((tx) => {
    tx.delete('node', 'n2');
    tx.delete('service', 's1');
  });
  const restored = raftLikeStore();
  restored.restore(JSON.parse(JSON.stringify(store.snapshot())) as StoreSnapshot);
  for (const s of [store, restored]) {
    await s.update((tx) => {
      tx.update('task', { ...tx.get('task', 't2')!, NodeID: 'n1' });
      tx.update('task', { ...tx.get('task', 't3')!, DesiredState: 'shutdown' });
      tx.create('task', task('t7', 's1', 7, 'n2'));
    });
    const all = s.read((tx) => tx.find('task'));
    const sorted = (xs: string[]) => [...xs].sort();
    for (const n of ['n1', 'n2']) assert.deepEqual(sorted(s.read((tx) => ids(tx.tasksByNode(n)))), sorted(ids(all.filter((t) => t.NodeID === n))), n);
    assert.deepEqual(sorted(s.read((tx) => ids(tx.tasksByService('s1')))), sorted(ids(all)));
    const counted = [...s.taskCountsByNode('s1')].map(([n, c]) => [n, c.wanted]).sort();
    assert.deepEqual(counted, [
      ['n1', 3],
      ['n2', 3],
    ]);
  }
});
