import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Task, TaskState, TaskStatusUpdate } from '../../../types';
import { coalesceUpdates, judgeStatusUpdate, withStatus } from './status';

const task = (state: TaskState, nodeId = 'n1'): Task => ({
  ID: 't1',
  Version: { Index: 1 },
  CreatedAt: 'c',
  UpdatedAt: 'c',
  Labels: {},
  Spec: {},
  ServiceID: 's',
  NodeID: nodeId,
  Status: { Timestamp: 'x', State: state, Message: 'm', PortStatus: { Ports: [{ TargetPort: 80 }] } },
  DesiredState: 'running',
  internal: { specVersion: 1, serviceName: 'web' },
});
const upd = (State: TaskState, Message = 'm', health?: TaskStatusUpdate['health']): TaskStatusUpdate => ({ taskId: 't1', status: { Timestamp: 'y', State, Message }, ...(health ? { health } : {}) });

test('coalesce keeps the latest per task', () => {
  const u = coalesceUpdates([upd('accepted'), { ...upd('x' as TaskState), taskId: 't2' }, upd('running')]);
  assert.deepEqual(u.map((x) => [x.taskId, x.status.State]), [['t1', 'running'], ['t2', 'x']]);
});

test('verdicts', () => {
  assert.equal(judgeStatusUpdate(undefined, 'n1', upd('running')), 'unknown-task');
  assert.equal(judgeStatusUpdate(task('assigned', 'n2'), 'n1', upd('running')), 'wrong-node');
  assert.equal(judgeStatusUpdate(task('running'), 'n1', upd('starting')), 'backwards');
  assert.equal(judgeStatusUpdate(task('running'), 'n1', upd('running', 'm')), 'unchanged');
  assert.equal(judgeStatusUpdate(task('running'), 'n1', upd('running', 'm', 'healthy')), 'apply');
  assert.equal(judgeStatusUpdate(task('running'), 'n1', upd('failed')), 'apply');
});

test('withStatus records health and keeps manager-set port status', () => {
  const t = withStatus(task('starting'), upd('running', 'started', 'healthy'), 'now');
  assert.equal(t.Status.State, 'running');
  assert.equal(t.internal.health, 'healthy');
  assert.equal(t.UpdatedAt, 'now');
  assert.deepEqual(t.Status.PortStatus, { Ports: [{ TargetPort: 80 }] });
  // the task reported on is not changed; its internal part is shared only when the report leaves it alone
  const before = task('starting');
  assert.notEqual(withStatus(before, upd('running', 'started', 'healthy'), 'now').internal, before.internal);
  assert.equal(before.internal.health, undefined);
  assert.equal(withStatus(before, upd('running', 'started'), 'now').internal, before.internal);
});
