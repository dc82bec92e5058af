import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Service, Task } from '../../types';
import { nodeFixture, taskFixture } from '../../testing/fixtures';
import { effectsOf, nodesByState, updateProgress, withEveryState, TASK_STATES } from './cluster';

const v1 = { ContainerSpec: { Image: 'busybox:1' } };
const v2 = { ContainerSpec: { Image: 'busybox:1', Env: ['A=1'] } };

function service(over: Partial<Service> = {}): Service {
  return {
    ID: 's',
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: 'web', TaskTemplate: v2, Mode: { Replicated: { Replicas: 3 } } },
    Endpoint: { Spec: {} },
    internal: { specVersion: 2 },
    ...over,
  } as Service;
}

const task = (id: string, over: Partial<Task> = {}): Task =>
  taskFixture({ ID: id, Slot: 1, Spec: v1, CreatedAt: '2026-01-01T00:00:00.000Z', Status: { Timestamp: '2026-01-01T00:00:00.000Z', State: 'running', Message: '' }, ...over });

test('counts by state start every known state at 0', () => {
  const nodes = nodesByState([nodeFixture({ ID: 'a' }), nodeFixture({ ID: 'b', Status: { State: 'down', Addr: '' } }), nodeFixture({ ID: 'c' })]);
  assert.deepEqual(Object.fromEntries(nodes), { unknown: 0, down: 1, ready: 2, disconnected: 0 });
  const tasks = withEveryState(new Map([['running', 1], ['failed', 1]] as const));
  assert.equal(tasks.size, TASK_STATES.length);
  assert.equal(tasks.get('running'), 1);
  assert.equal(tasks.get('failed'), 1);
  assert.equal(tasks.get('pending'), 0);
});

test('update progress: running tasks on the current spec out of those still wanted; none before a first update', () => {
  const tasks = [
    task('old', { Spec: v1 }),
    task('new-running', { Spec: v2, Slot: 2 }),
    task('new-starting', { Spec: v2, Slot: 3, Status: { Timestamp: '', State: 'starting', Message: '' } }),
    task('gone', { Spec: v1, Slot: 2, DesiredState: 'shutdown', Status: { Timestamp: '', State: 'shutdown', Message: '' } }),
  ];
  assert.equal(updateProgress(service(), tasks), undefined);
  assert.deepEqual(updateProgress(service({ UpdateStatus: { State: 'updating' } }), tasks), { state: 'updating', updated: 1, total: 3 });
});

test('a task created in a slot that had one is a replacement: "update" when made from a newer spec, else "restart"', () => {
  const old = task('old', { internal: { specVersion: 1, serviceName: 'web' } });
  const restarted = task('r', { CreatedAt: '2026-01-01T00:00:05.000Z', internal: { specVersion: 1, serviceName: 'web' } });
  const updated = task('u', { CreatedAt: '2026-01-01T00:00:05.000Z', internal: { specVersion: 2, serviceName: 'web' } });
  assert.deepEqual(effectsOf({ kind: 'task', action: 'create', object: restarted }, () => [old, restarted]), [{ kind: 'replacement', service: 'web', reason: 'restart' }]);
  assert.deepEqual(effectsOf({ kind: 'task', action: 'create', object: updated }, () => [old, updated]), [{ kind: 'replacement', service: 'web', reason: 'update' }]);
  // the first task of a slot is no replacement, even when its own replacement is already in the store
  assert.deepEqual(effectsOf({ kind: 'task', action: 'create', object: old }, () => [old, restarted]), []);
});

test('state changes: FAILED/REJECTED count as failures, RUNNING gives the scheduling delay; repeats count nothing', () => {
  const was = task('t', { Status: { Timestamp: '', State: 'starting', Message: '' } });
  const failed = task('t', { Status: { Timestamp: '', State: 'failed', Message: '' } });
  const rejected = task('t', { Status: { Timestamp: '', State: 'rejected', Message: '' } });
  const running = task('t', { Status: { Timestamp: '2026-01-01T00:00:01.500Z', State: 'running', Message: '' } });
  assert.deepEqual(effectsOf({ kind: 'task', action: 'update', object: failed, old: was }, () => []), [{ kind: 'failed', service: 'web' }]);
  assert.deepEqual(effectsOf({ kind: 'task', action: 'update', object: rejected, old: was }, () => []), [{ kind: 'failed', service: 'web' }]);
  assert.deepEqual(effectsOf({ kind: 'task', action: 'update', object: running, old: was }, () => []), [{ kind: 'running', service: 'web', seconds: 1.5 }]);
  assert.deepEqual(effectsOf({ kind: 'task', action: 'update', object: running, old: running }, () => []), []);
});

test('a node marked down for stopped heartbeats is a heartbeat miss; a node that left is not; a removed service drops its series', () => {
  const up = nodeFixture({ ID: 'n' });
  const missed = nodeFixture({ ID: 'n', Status: { State: 'down', Addr: '', Message: 'heartbeat failure' } });
  const left = nodeFixture({ ID: 'n', Status: { State: 'down', Addr: '', Message: 'node left the swarm' } });
  assert.deepEqual(effectsOf({ kind: 'node', action: 'update', object: missed, old: up }, () => []), [{ kind: 'heartbeat-miss' }]);
  assert.deepEqual(effectsOf({ kind: 'node', action: 'update', object: missed, old: missed }, () => []), []);
  assert.deepEqual(effectsOf({ kind: 'node', action: 'update', object: left, old: up }, () => []), []);
  assert.deepEqual(effectsOf({ kind: 'service', action: 'delete', object: service() }, () => []), [{ kind: 'service-removed', service: 'web' }]);
});
