import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convergence } from './progress';
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

