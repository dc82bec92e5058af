// Jobs on the docker runtime: each task is a container of a real Docker Engine that runs to its exit.
// A replicated job completes (no container restarted after a clean exit); a failing one is retried
// per its restart policy with Docker's error text.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestDaemon, freePort, waitFor } from '../harness/daemon';
import { engineTestOptions, requireEngine } from '../harness/engine';

interface JobTask {
  DesiredState: string;
  JobIteration?: { Index: number };
  Status: { State: string; Err?: string; ContainerStatus?: { ContainerID?: string; ExitCode?: number } };
}

describe('job services on the docker runtime', { ...engineTestOptions(), concurrency: false, timeout: 120_000 }, () => {
  let d: TestDaemon;
  const tasksOf = async (service: string): Promise<JobTask[]> =>
    (await d.api<JobTask[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`)).body;

  before(async () => {
    d = new TestDaemon({ runtime: 'docker', engine: requireEngine().host, hostname: 'shoal-jobs-docker' });
    await d.start();
    const port = await freePort();
    d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${port}`]);
  });
  after(async () => {
    if (d) await d.teardown();
  });

  test('a replicated job of 3 containers (2 at once) completes; the CLI reports "job complete"', async () => {
    const out = d.dockerOk(['service', 'create', '--name', 'djob', '--mode', 'replicated-job', '--replicas', '3', '--max-concurrent', '2', requireEngine().image, 'sh', '-c', 'sleep 0.5'], { timeoutMs: 90_000 });
    assert.match(out, /^job complete$/m);
    const ts = await tasksOf('djob');
    assert.equal(ts.length, 3);
    assert.ok(ts.every((t) => t.Status.State === 'complete' && t.Status.ContainerStatus?.ExitCode === 0 && !!t.Status.ContainerStatus.ContainerID));
  });

  test('a failing job container is retried per the restart policy, then left failed', async () => {
    d.dockerOk(['service', 'create', '--detach', '--name', 'dfail', '--mode', 'replicated-job', '--restart-delay', '100ms', '--restart-max-attempts', '1', requireEngine().image, 'sh', '-c', 'exit 4']);
    await waitFor(async () => (await tasksOf('dfail')).filter((t) => t.Status.State === 'failed' && t.DesiredState === 'shutdown').length === 2, 60_000, 'two failed attempts', 100);
    const ts = await tasksOf('dfail');
    assert.equal(ts.length, 2);
    assert.ok(ts.every((t) => t.Status.Err === 'task: non-zero exit (4)'), JSON.stringify(ts.map((t) => t.Status.Err)));
  });
});
