// docker-py 7.1.0's job-mode service tests against a Shoal daemon on the process runtime:
// test/e2e/py/job_steps.py runs one step per call and prints what it saw as JSON; the asserts
// (docker-py's own, and that the job then runs to completion) are here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestDaemon, freePort, waitFor } from '../harness/daemon';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCRIPT = path.join(ROOT, 'test', 'e2e', 'py', 'job_steps.py');

const hasDockerPy = spawnSync('python3', ['-c', 'import docker'], { timeout: 20_000 }).status === 0;
if (!hasDockerPy && process.env.CI === 'true') throw new Error('docker-py is not importable by python3, and CI=true requires this suite to run');
const skip = hasDockerPy ? undefined : 'docker-py is not installed for python3 (`python3 -c "import docker"` fails)';

type Json = Record<string, any>;

describe("docker-py's job-mode tests (process runtime)", { skip, concurrency: false, timeout: 120_000 }, () => {
  let d: TestDaemon;
  const step = (name: string, arg?: string): Json => {
    const r = spawnSync('python3', [SCRIPT, d.sock, name, ...(arg ? [arg] : [])], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`docker-py step ${name} failed (${r.status}):\n${r.stdout}\n${r.stderr}\n--- daemon log ---\n${d.log()}`);
    return JSON.parse(r.stdout) as Json;
  };

  before(async () => {
    d = new TestDaemon({ runtime: 'process', hostname: 'shoal-pyjobs' });
    await d.start();
    step('init', String(await freePort()));
  });
  after(async () => {
    if (!d) return;
    const ls = d.docker(['service', 'ls', '-q']).stdout.trim();
    if (ls) d.docker(['service', 'rm', ...ls.split('\n')]);
    await waitFor(async () => ((await d.api<unknown[]>('GET', '/v1.47/tasks')).body as unknown[] | undefined)?.length === 0, 30_000, 'tasks gone').catch(() => undefined);
    await d.cleanup();
  });

  test('test_create_service_replicated_job_mode', () => {
    const r = step('replicated_job');
    assert.ok('ReplicatedJob' in r.spec_mode);
    assert.deepEqual(r.spec_mode.ReplicatedJob, { MaxConcurrent: 1, TotalCompletions: 5 });
    assert.ok(r.job_status && 'JobIteration' in r.job_status && typeof r.job_status.LastExecution === 'string');
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
