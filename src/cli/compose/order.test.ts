import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceSpec, Task } from '../../types';
import { creationOrder, dependencyState } from './order';
import { sameSpec, specForUpdate } from './diff';

type ApiTask = Omit<Task, 'internal'>;

test('creation order: dependencies first, then by name; cycles are errors', () => {
  const svc = (key: string, deps: string[] = []) => ({ key, dependsOn: Object.fromEntries(deps.map((d) => [d, 'service_started' as const])) });
  assert.deepEqual(
    creationOrder([svc('web', ['api']), svc('api', ['db', 'cache']), svc('db'), svc('cache'), svc('admin')]).map((s) => s.key),
    ['admin', 'cache', 'db', 'api', 'web'],
  );
  assert.throws(() => creationOrder([svc('a', ['b']), svc('b', ['c']), svc('c', ['a'])]), /^Error: dependency cycle detected: a -> b -> c -> a$/);
});

const spec = (mode: ServiceSpec['Mode'], restart?: 'none' | 'any'): ServiceSpec => ({ Name: 's', TaskTemplate: { ContainerSpec: { Image: 'x' }, ...(restart ? { RestartPolicy: { Condition: restart } } : {}) }, Mode: mode });
let n = 0;
const task = (slot: number, state: ApiTask['Status']['State'], desired: ApiTask['DesiredState'] = 'running', exit?: number): ApiTask =>
  ({
    ID: `t${++n}`,
    Version: { Index: n },
    CreatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    UpdatedAt: '',
    ServiceID: 's',
    Slot: slot,
    NodeID: 'n1',
    DesiredState: desired,
    Spec: { ContainerSpec: { Image: 'x' } },
    Status: { State: state, Timestamp: '', ...(exit !== undefined ? { ContainerStatus: { ExitCode: exit } } : {}) },
  }) as unknown as ApiTask;

test('service_started / service_healthy: every wanted task running (a checked task runs only once healthy)', () => {
  const two = spec({ Replicated: { Replicas: 2 } });
  assert.deepEqual(dependencyState('service_started', two, [task(1, 'running'), task(2, 'starting')]), { ready: false, progress: '1/2 tasks running' });
  assert.deepEqual(dependencyState('service_healthy', two, [task(1, 'running'), task(2, 'running')]), { ready: true, progress: '2/2 tasks healthy' });
  assert.deepEqual(dependencyState('service_healthy', two, [task(1, 'running'), task(2, 'running', 'shutdown')]), { ready: false, progress: '1/2 tasks healthy' });
  assert.deepEqual(dependencyState('service_started', spec({ Replicated: {} }), [task(1, 'running')]), { ready: true, progress: '1/1 tasks running' });
});

test('service_completed_successfully: the newest task of every slot complete; a failure without retry is final', () => {
  const job = spec({ ReplicatedJob: { TotalCompletions: 2 } }, 'none');
  assert.deepEqual(dependencyState('service_completed_successfully', job, [task(1, 'complete', 'shutdown'), task(2, 'running')]), { ready: false, progress: '1/2 tasks completed' });
  assert.deepEqual(dependencyState('service_completed_successfully', job, [task(1, 'complete', 'shutdown'), task(2, 'complete', 'shutdown')]), { ready: true, progress: '2/2 tasks completed' });
  const failed = dependencyState('service_completed_successfully', job, [task(1, 'complete', 'shutdown'), task(2, 'failed', 'shutdown', 3)]);
  assert.equal(failed.failed, "didn't complete successfully: exit 3");
  const retried = spec({ ReplicatedJob: { TotalCompletions: 1 } }, 'any');
  assert.equal(dependencyState('service_completed_successfully', retried, [task(1, 'failed', 'shutdown', 1)]).failed, undefined, 'a retry is coming');
  assert.equal(dependencyState('service_completed_successfully', retried, [task(1, 'failed', 'shutdown', 1), task(1, 'complete', 'shutdown')]).ready, true);
});

test('redeploy: a spec equal up to zero values, key case, network IDs and default replicas is unchanged', () => {
  const next: ServiceSpec = {
    Name: 'st_web',
    Labels: { 'com.docker.stack.image': 'busybox' },
    TaskTemplate: { ContainerSpec: { Image: 'busybox', HealthCheck: { Test: ['CMD', 'true'] } }, Placement: {}, Networks: [{ Target: 'st_default', Aliases: ['web'] }] },
    Mode: { Replicated: {} },
  };
  const stored = {
    Name: 'st_web',
    Labels: { 'com.docker.stack.image': 'busybox' },
    TaskTemplate: { ContainerSpec: { Image: 'busybox@sha256:abc', Healthcheck: { Test: ['CMD', 'true'] } }, Networks: [{ Target: 'net1', Aliases: ['web'] }], ForceUpdate: 2 },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: {},
  } as unknown as ServiceSpec;
  const ids = new Map([['st_default', 'net1']]);
  const upd = specForUpdate(stored, next);
  assert.equal(upd.TaskTemplate.ContainerSpec!.Image, 'busybox@sha256:abc', 'same image in the file: the pinned one is kept');
  assert.equal(upd.TaskTemplate.ForceUpdate, 2);
  assert.equal(sameSpec(stored, upd, ids), true);
  const changed = structuredClone(next);
  changed.TaskTemplate.ContainerSpec!.Env = ['A=1'];
  assert.equal(sameSpec(stored, specForUpdate(stored, changed), ids), false);
  const scaled = structuredClone(next);
  scaled.Mode = { Replicated: { Replicas: 2 } };
  assert.equal(sameSpec(stored, specForUpdate(stored, scaled), ids), false);
  const newImage = structuredClone(next);
  newImage.TaskTemplate.ContainerSpec!.Image = 'busybox:2';
  newImage.Labels = { 'com.docker.stack.image': 'busybox:2' };
  assert.equal(specForUpdate(stored, newImage).TaskTemplate.ContainerSpec!.Image, 'busybox:2');
});
