// docker-py 7.1.0's job-mode service tests against a Shoal daemon on the process runtime:
// test/e2e/py/job_steps.py runs one step per call and prints what it saw as JSON; the asserts
// (docker-py's own, and that the job then runs to completion) are here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestDaemon, freePort } from '../harness/daemon';
import { dockerPySkip, pyStepRunner } from '../harness/docker-py';

const skip = dockerPySkip();

describe("docker-py's job-mode tests (process runtime)", { skip, concurrency: false, timeout: 120_000 }, () => {
  let d: TestDaemon;
  const step = pyStepRunner('job_steps.py', () => d);

  before(async () => {
    d = new TestDaemon({ runtime: 'process', hostname: 'shoal-pyjobs' });
    await d.start();
    step('init', String(await freePort()));
  });
  after(async () => {
    if (d) await d.teardown();
  });

  test('test_create_service_replicated_job_mode', () => {
    const r = step('replicated_job');
    assert.ok('ReplicatedJob' in r.spec_mode);
    assert.deepEqual(r.spec_mode.ReplicatedJob, { MaxConcurrent: 1, TotalCompletions: 5 });
    assert.ok(r.job_status && typeof r.job_status.LastExecution === 'string');
    assert.deepEqual(r.job_status.JobIteration, {}, 'iteration 0 as Docker sends it (Go omits a zero Index)');
    assert.deepEqual(r.states, ['complete', 'complete', 'complete', 'complete', 'complete'], 'five completions, one at a time');
    assert.deepEqual(r.desired, ['complete']);
    assert.deepEqual(r.iterations, [0]);
    assert.deepEqual(r.service_status, { RunningTasks: 0, DesiredTasks: 1, CompletedTasks: 5 });
  });

  test('test_create_service_global_job_mode', () => {
    const r = step('global_job');
    assert.ok('GlobalJob' in r.spec_mode);
    assert.deepEqual(r.spec_mode.GlobalJob, {});
    assert.deepEqual(r.states, ['complete'], 'one task on the one node');
    assert.deepEqual(r.service_status, { RunningTasks: 0, DesiredTasks: 0, CompletedTasks: 1 });
  });
});
