import { test } from 'node:test';
import assert from 'node:assert/strict';
import { immediateStore } from '../../store/testing/immediate';
import type { Task } from '../../types';
import { Allocator } from './index';
import { allocateTask } from './core/allocate';
import { taskFixture } from '../../testing/fixtures';

const task = (id: string, desired: Task['DesiredState'] = 'running'): Task =>
  taskFixture({ ID: id, Slot: 1, Status: { Timestamp: '', State: 'new', Message: 'created' }, DesiredState: desired, internal: { specVersion: 1, serviceName: 's' } });

test('allocateTask: NEW and wanted → PENDING; otherwise nothing', () => {
  const t = allocateTask(task('a'), Date.UTC(2024, 0, 1))!;
  assert.equal(t.Status.State, 'pending');
  assert.equal(t.Status.Message, 'pending task scheduling');
  assert.equal(allocateTask(task('b', 'remove'), 0), null);
  assert.equal(allocateTask(t, 0), null);
  assert.equal(allocateTask(task('c', 'ready'), 0)?.Status.State, 'pending');
});

test('Allocator loop moves new tasks to pending', async () => {
  const store = immediateStore();
  await store.update((tx) => tx.create('task', task('before')));
  const a = new Allocator({ store, clock: { now: () => Date.now() } });
  a.start();
  try {
    await store.update((tx) => tx.create('task', task('after')));
    const end = Date.now() + 3000;
    while (store.view((tx) => tx.find('task')).some((t) => t.Status.State !== 'pending')) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await a.stop();
  }
});
