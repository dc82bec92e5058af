import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingWrites } from './pending';
import type { Change } from './types';
import type { Task } from '../types';
import { taskFixture } from '../testing/fixtures';

const done = Promise.resolve();
const put = (id: string, nodeId: string, slot = 1): Change => ({ action: 'update', kind: 'task', object: taskFixture({ ID: id, ServiceID: 's', Slot: slot, NodeID: nodeId }) as Task });

test('the latest pending change of an object wins, and stays when an earlier write is applied', () => {
  const p = new PendingWrites();
  p.push(5, [put('t1', 'n1')], done);
  p.push(6, [put('t1', 'n2')], done);
  assert.equal((p.peek('task', 't1') as { object: Task }).object.NodeID, 'n2');
  assert.equal((p.peek('task', 't1') as { object: Task }).object.Version.Index, 6);
  p.appliedThrough(5);
  assert.equal((p.peek('task', 't1') as { object: Task }).object.NodeID, 'n2');
  assert.deepEqual([...p.taskIds('node', 'n1')], [], 'the applied write no longer counts t1 under n1');
  assert.deepEqual([...p.taskIds('node', 'n2')], ['t1']);
  p.appliedThrough(6);
  assert.equal(p.peek('task', 't1'), undefined);
  assert.equal(p.size, 0);
  assert.deepEqual([...p.taskIds('service', 's')], []);
});

test('dropFrom removes a write and every later one, and the earlier ones read as before', () => {
  const p = new PendingWrites();
  p.push(3, [put('t1', 'n1')], done);
  p.push(4, [put('t1', 'n2'), { action: 'delete', kind: 'task', id: 't9' }], done);
  p.push(7, [put('t2', 'n2')], done);
  p.dropFrom(4);
  assert.equal(p.lastIndex, 3);
  assert.equal((p.peek('task', 't1') as { object: Task }).object.NodeID, 'n1');
  assert.equal(p.peek('task', 't9'), undefined);
  assert.deepEqual([...p.taskIds('node', 'n2')], []);
  assert.deepEqual([...p.taskIds('slot', 's/1')], ['t1']);
  assert.throws(() => p.push(2, [], done), /after one at 3/);
});

test('a task is listed under the keys of its latest pending version only, and no key is left empty', () => {
  const p = new PendingWrites();
  const pendingTask = (): Change => ({ action: 'create', kind: 'task', object: taskFixture({ ID: 't1', ServiceID: 's', Slot: 1, Status: { Timestamp: '', State: 'pending', Message: '' } }) as Task });
  p.push(5, [pendingTask()], done);
  assert.deepEqual([...p.taskIds('pending', 's')], ['t1']);
  assert.deepEqual([...p.taskIds('node', 'n1')], []);
  p.push(6, [put('t1', 'n1')], done); // assigned: out of the pending key, into the node's
  assert.deepEqual([...p.taskIds('pending', 's')], [], 'the version before is no longer what a reader sees');
  assert.deepEqual([...p.taskIds('node', 'n1')], ['t1']);
  p.push(7, [put('t1', 'n2', 2)], done);
  assert.deepEqual([...p.taskIds('node', 'n1')], []);
  assert.deepEqual([...p.taskIds('slot', 's/1')], []);
  assert.deepEqual([...p.taskIds('slot', 's/2')], ['t1']);
  assert.deepEqual([...p.taskIds('service', 's')], ['t1']);
  p.push(8, [{ action: 'delete', kind: 'task', id: 't1' }], done); // a pending delete: under no key
  for (const [name, key] of [['service', 's'], ['node', 'n2'], ['slot', 's/2']] as const) assert.deepEqual([...p.taskIds(name, key)], [], `${name} ${key}`);
  p.push(9, [put('t1', 'n3')], done); // (the store never does this after a delete; the bookkeeping still follows the latest)
  assert.deepEqual([...p.taskIds('node', 'n3')], ['t1']);
  p.appliedThrough(8);
  assert.deepEqual([...p.taskIds('node', 'n3')], ['t1'], 'applying earlier writes leaves the latest version listed');
  p.appliedThrough(9);
  assert.deepEqual([...p.taskIds('node', 'n3')], []);
  assert.deepEqual([...p.taskIds('service', 's')], []);
  // nothing pending, nothing kept: no key with an empty set
  const keys = (p as unknown as { taskKeys: Record<string, { keyCount: number }> }).taskKeys;
  for (const [name, index] of Object.entries(keys)) assert.equal(index.keyCount, 0, `${name} keeps no key`);
});
