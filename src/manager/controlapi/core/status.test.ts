import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobCounts } from './status';
import type { Service, Task, TaskState } from '../../../types';

const svc = (mode: Service['Spec']['Mode'], iteration: number): Service => ({
  ID: 's', Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', Endpoint: { Spec: {} }, internal: { specVersion: 1 },
  Spec: { Name: 's', TaskTemplate: {}, Mode: mode }, JobStatus: { JobIteration: { Index: iteration } },
});
const task = (state: TaskState, desired: TaskState, iteration: number): Task => ({
  ID: `${state}${desired}${iteration}`, Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', Labels: {}, Spec: {}, ServiceID: 's',
  Status: { Timestamp: '', State: state, Message: '' }, DesiredState: desired, JobIteration: { Index: iteration }, internal: { specVersion: 1, serviceName: 's' },
});

test('job status counts only the current iteration: replicated desired = MaxConcurrent, global desired = tasks still to complete', () => {
  const tasks = [task('running', 'complete', 2), task('complete', 'complete', 2), task('complete', 'complete', 2), task('preparing', 'complete', 2), task('running', 'complete', 1), task('complete', 'shutdown', 1)];
  assert.deepEqual(jobCounts(svc({ ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } }, 2), tasks), { RunningTasks: 1, DesiredTasks: 2, CompletedTasks: 2 });
  assert.deepEqual(jobCounts(svc({ GlobalJob: {} }, 2), tasks), { RunningTasks: 1, DesiredTasks: 2, CompletedTasks: 2 });
});
