import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convergence, jobProgress, jobProgressLine, progressLine } from './progress';
import type { ApiService } from './services';
import type { ApiTask } from './tasks';

const svc = (replicas: number, update?: ApiService['UpdateStatus']): ApiService => ({
  ID: 's',
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Name: 'web', TaskTemplate: {}, Mode: { Replicated: { Replicas: replicas } } },
  Endpoint: { Spec: {} },
  ...(update ? { UpdateStatus: update } : {}),
});
const t = (state: ApiTask['Status']['State'], desired: ApiTask['DesiredState']): ApiTask => ({
  ID: Math.random().toString(36),
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  Labels: {},
  Spec: {},
  ServiceID: 's',
  Status: { Timestamp: '', State: state, Message: '' },
  DesiredState: desired,
});

test('converged when every wanted task runs and nothing else does', () => {
  assert.deepEqual(convergence(svc(2), [t('running', 'running'), t('running', 'running')]), { running: 2, desired: 2, converged: true });
  assert.equal(convergence(svc(2), [t('running', 'running'), t('starting', 'running')]).converged, false);
  assert.equal(convergence(svc(1), [t('running', 'running'), t('running', 'shutdown')]).converged, false);
  assert.equal(convergence(svc(1), [t('running', 'running')].concat(t('shutdown', 'shutdown'))).converged, true);
  assert.equal(convergence(svc(1, { State: 'updating' }), [t('running', 'running')]).converged, false);
  assert.equal(convergence(svc(1, { State: 'paused', Message: 'update paused due to failure' }), []).failed, 'update paused due to failure');
  assert.equal(convergence(svc(0), []).converged, true);
});

test('progress line', () => {
  assert.equal(progressLine({ running: 1, desired: 3, converged: false }), 'overall progress: 1 out of 3 tasks\n');
  assert.equal(progressLine({ running: 3, desired: 3, converged: true }, true), 'overall progress: rolling back update: 3 out of 3 tasks\n');
});

test('job progress: tasks of the current iteration; replicated done at TotalCompletions, global when every node completed', () => {
  const job = (mode: ApiService['Spec']['Mode']): ApiService => ({ ...svc(1), Spec: { Name: 'j', TaskTemplate: {}, Mode: mode }, JobStatus: { JobIteration: { Index: 1 } } });
  const jt = (state: ApiTask['Status']['State'], iteration: number, at: { Slot?: number; NodeID?: string }): ApiTask => ({ ...t(state, 'complete'), JobIteration: { Index: iteration }, ...at });
  const rj = job({ ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 2 } });
  assert.deepEqual(jobProgress(rj, [jt('complete', 0, { Slot: 0 }), jt('complete', 0, { Slot: 1 }), jt('complete', 1, { Slot: 0 }), jt('running', 1, { Slot: 1 })]), { completed: 1, total: 2, done: false });
  assert.equal(jobProgress(rj, [jt('complete', 1, { Slot: 0 }), jt('complete', 1, { Slot: 1 })]).done, true);
  const gj = job({ GlobalJob: {} });
  const p = jobProgress(gj, [jt('complete', 1, { NodeID: 'a' }), jt('failed', 1, { NodeID: 'b' })]);
  assert.deepEqual(p, { completed: 1, total: 2, done: false });
  assert.equal(jobProgressLine(p), 'job progress: 1 out of 2 complete\n');
});
