import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Task, TaskState } from '../../../types';
import { AssignmentSet, isAssignable, equivalentForAgent } from './assignments';

function task(id: string, over: Partial<Task> = {}, state: TaskState = 'assigned'): Task {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: 't',
    UpdatedAt: 't',
    Labels: {},
    Spec: { ContainerSpec: { Image: 'busybox' } },
    ServiceID: 's1',
    Slot: 1,
    NodeID: 'n1',
    Status: { Timestamp: 't', State: state, Message: '' },
    DesiredState: 'running',
    internal: { specVersion: 1, serviceName: 'web' },
    ...over,
  };
}

test('isAssignable: node, state >= assigned, not terminal+remove', () => {
  assert.equal(isAssignable(task('a'), 'n1'), true);
  assert.equal(isAssignable(task('a'), 'n2'), false);
  assert.equal(isAssignable(task('a', {}, 'pending'), 'n1'), false);
  assert.equal(isAssignable(task('a', { DesiredState: 'shutdown' }, 'running'), 'n1'), true);
  assert.equal(isAssignable(task('a', { DesiredState: 'ready' }, 'assigned'), 'n1'), true);
  assert.equal(isAssignable(task('a', { DesiredState: 'shutdown' }, 'failed'), 'n1'), true, 'history stays (logs)');
  assert.equal(isAssignable(task('a', { DesiredState: 'remove' }, 'running'), 'n1'), true, 'must still be stopped');
  assert.equal(isAssignable(task('a', { DesiredState: 'remove' }, 'shutdown'), 'n1'), false, 'acknowledged removal');
});

test('complete message: only this node, sorted', () => {
  const set = new AssignmentSet('n1');
  const m = set.complete([task('b'), task('a'), task('c', { NodeID: 'n2' }), task('d', {}, 'pending')]);
  assert.equal(m.type, 'complete');
  assert.deepEqual(m.updateTasks.map((t) => t.ID), ['a', 'b']);
  assert.deepEqual(m.removeTasks, []);
});

test('incremental: status-only changes by the agent are not echoed', () => {
  const set = new AssignmentSet('n1');
  set.complete([task('a')]);
  const running = task('a', { Version: { Index: 7 }, UpdatedAt: 'u' }, 'running');
  assert.equal(set.apply([{ action: 'update', task: running }]), null);
  const shut = { ...running, DesiredState: 'shutdown' as TaskState };
  const m = set.apply([{ action: 'update', task: shut }]);
  assert.deepEqual(m, { type: 'incremental', updateTasks: [shut], removeTasks: [] });
});

test('incremental: new task, deletion, moving away, coalescing per task', () => {
  const set = new AssignmentSet('n1');
  set.complete([task('a'), task('b')]);
  const m = set.apply([
    { action: 'create', task: task('c', {}, 'pending') },
    { action: 'update', task: task('c', {}, 'assigned') },
    { action: 'delete', task: task('a') },
    { action: 'update', task: task('b', { NodeID: 'n2' }) },
    { action: 'delete', task: task('zzz') },
  ]);
  assert.deepEqual(m?.updateTasks.map((t) => t.ID), ['c']);
  assert.deepEqual(m?.removeTasks, ['a', 'b']);
  assert.equal(set.has('a'), false);
  assert.equal(set.size, 1);
});

test('incremental: acknowledged removal leaves the set', () => {
  const set = new AssignmentSet('n1');
  set.complete([task('a', { DesiredState: 'remove' }, 'running')]);
  const m = set.apply([{ action: 'update', task: task('a', { DesiredState: 'remove' }, 'shutdown') }]);
  assert.deepEqual(m, { type: 'incremental', updateTasks: [], removeTasks: ['a'] });
});

test('equivalentForAgent ignores Status/Version/internal', () => {
  const a = task('a');
  const b = { ...task('a', { Version: { Index: 9 } }, 'running'), internal: { specVersion: 1, serviceName: 'web', health: 'healthy' as const } };
  assert.equal(equivalentForAgent(a, b), true);
  assert.equal(equivalentForAgent(a, task('a', { DesiredState: 'ready' })), false);
});
