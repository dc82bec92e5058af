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
  // compared by value, as decoded copies of one task are: equal content, other objects
  assert.equal(equivalentForAgent({ ...a, JobIteration: { Index: 2 } }, { ...structuredClone(a), JobIteration: { Index: 2 } }), true);
  assert.equal(equivalentForAgent({ ...a, JobIteration: { Index: 2 } }, { ...a, JobIteration: { Index: 3 } }), false);
  assert.equal(equivalentForAgent(a, { ...a, Spec: { ...structuredClone(a.Spec), ContainerSpec: { Image: 'other' } } }), false);
  assert.equal(equivalentForAgent(a, { ...a, Labels: { x: 'y' } }), false);
});

test('secrets and configs: only those of the live tasks of this node, dropped when none needs them', () => {
  const data = (id: string) => ({ ID: id, Version: { Index: 1 }, CreatedAt: 't', UpdatedAt: 't', Spec: { Name: id, Data: 'eA==' } });
  const lookup = { secret: (id: string) => (id === 'gone' ? undefined : data(id)), config: (id: string) => data(id) };
  const uses = (secrets: string[], configs: string[] = []): Partial<Task> => ({
    Spec: {
      ContainerSpec: {
        Image: 'busybox',
        Secrets: secrets.map((s) => ({ SecretID: s, SecretName: s, File: { Name: s } })),
        Configs: configs.map((c) => ({ ConfigID: c, ConfigName: c, File: { Name: `/${c}` } })),
      },
    },
  });
  const set = new AssignmentSet('n1');
  const first = set.complete([task('a', uses(['s1', 'gone'], ['c1'])), task('b', { ...uses(['s2']), NodeID: 'n2' }), task('c', uses(['s1']))], lookup);
  assert.deepEqual(first.updateSecrets?.map((s) => s.ID), ['s1'], "never another node's secret; a removed one is skipped");
  assert.deepEqual(first.updateConfigs?.map((c) => c.ID), ['c1']);
  assert.equal(first.removeSecrets, undefined);
  // a new task needing s1 (held already) and s3 (new)
  const m2 = set.apply([{ action: 'create', task: task('d', uses(['s1', 's3'])) }], lookup)!;
  assert.deepEqual(m2.updateSecrets?.map((s) => s.ID), ['s3'], 'only what the node lacks');
  // a task ends: what only it needed is forgotten, what another live task needs stays
  const m3 = set.apply([{ action: 'update', task: task('d', uses(['s1', 's3']), 'complete') }], lookup)!;
  assert.deepEqual(m3.removeSecrets, ['s3']);
  assert.equal(m3.updateSecrets, undefined);
  const m4 = set.apply(
    [
      { action: 'delete', task: task('a', uses(['s1', 'gone'], ['c1'])) },
      { action: 'update', task: task('c', { ...uses(['s1']), DesiredState: 'shutdown' }, 'shutdown') },
    ],
    lookup,
  )!;
  assert.deepEqual(m4.removeSecrets, ['s1']);
  assert.deepEqual(m4.removeConfigs, ['c1']);
  assert.deepEqual(set.sentDependencies(), { secrets: [], configs: [] });
  assert.equal(set.apply([{ action: 'update', task: task('c', { ...uses(['s1']), DesiredState: 'shutdown' }, 'shutdown') }], lookup), null, 'nothing new: no message');
});
