// Job services through the real docker CLI on the process runtime, on a 2-node cluster (manager +
// worker): replicated jobs (MaxConcurrent observed, never exceeded), `docker service ls`'s
// "N/M (K/L completed)", the CLI's job progress, a failing job retried per its restart policy, a
// `--force` rerun (a new JobIteration), and a global job that runs once on each node.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestCluster } from '../harness/cluster';
import { parseTable, sleep, waitFor } from '../harness/daemon';
import { dockerAvailable } from '../harness/daemon';

interface JobTask {
  ID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: string;
  JobIteration?: { Index: number };
  Status: { State: string; Err?: string };
}

const SHOAL = path.resolve(__dirname, '..', '..', '..', 'bin', 'shoal.js');
const skip = dockerAvailable() ? undefined : 'the docker CLI is not installed';

describe('job services (docker CLI, process runtime, 2 nodes)', { skip, concurrency: false, timeout: 240_000 }, () => {
  let c: TestCluster;
  const tasksOf = async (service: string): Promise<JobTask[]> => {
    const r = await c.manager.daemon.api<JobTask[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`);
    assert.equal(r.status, 200);
    return r.body;
  };
  const lsRow = (name: string) => parseTable(c.manager.dockerOk(['service', 'ls', '--filter', `name=${name}`])).find((r) => r.NAME === name);

  before(async () => {
    c = new TestCluster({ workers: 1, heartbeat: '1s', hostPrefix: 'job' });
    await c.start();
  });
  after(async () => {
    if (c) await c.cleanup();
  });

  test('replicated job: 5 completions, at most 2 at once, service ls "0/2 (5/5 completed)", JobStatus', async () => {
    c.manager.dockerOk(['service', 'create', '--detach', '--name', 'rj', '--mode', 'replicated-job', '--replicas', '5', '--max-concurrent', '2', 'busybox', 'sh', '-c', 'sleep 1']);
    let maxActive = 0;
    const samples: number[] = [];
    await waitFor(
      async () => {
        const ts = await tasksOf('rj');
        // a task is "at once" from the moment it is assigned until it stops
        const active = ts.filter((t) => ['assigned', 'accepted', 'preparing', 'ready', 'starting', 'running'].includes(t.Status.State)).length;
        samples.push(active);
        maxActive = Math.max(maxActive, active);
        return ts.filter((t) => t.Status.State === 'complete').length === 5;
      },
      60_000,
      'rj: 5 tasks complete',
      50,
    );
    assert.ok(maxActive >= 1 && maxActive <= 2, `at most MaxConcurrent=2 tasks at once (seen ${maxActive}; samples ${samples.join(',')})`);
    const ts = await tasksOf('rj');
    assert.equal(ts.length, 5, 'no task beyond TotalCompletions');
    assert.deepEqual(ts.map((t) => t.Slot ?? 0).sort(), [0, 1, 2, 3, 4], 'slots 0..4 as swarmkit numbers them');
    // iteration 0 goes over the wire as Docker sends it: `"JobIteration": {}` (Go's omitempty Index)
    assert.ok(ts.every((t) => t.DesiredState === 'complete' && t.JobIteration !== undefined && t.JobIteration.Index === undefined));
    assert.equal(lsRow('rj')?.MODE, 'replicated job');
    assert.equal(lsRow('rj')?.REPLICAS, '0/2 (5/5 completed)');
    const svc = JSON.parse(c.manager.dockerOk(['service', 'inspect', 'rj']))[0];
    assert.deepEqual(svc.Spec.Mode, { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } });
    // Docker's Version omits a zero Index: iteration 0 prints as `"JobIteration": {}`
    assert.deepEqual(svc.JobStatus.JobIteration, {});
    assert.match(svc.JobStatus.LastExecution, /^\d{4}-\d\d-\d\dT/);
    // a completed job is not restarted: still 5 tasks a while later
    await sleep(1500);
    assert.equal((await tasksOf('rj')).length, 5);
  });

  test('docker service update --force reruns the job: JobIteration 1, five new completions, the CLI says "job complete"', async () => {
    // without --detach the CLI follows the new iteration to its end
    const out = c.manager.dockerOk(['service', 'update', '--force', 'rj'], { timeoutMs: 90_000 });
    assert.match(out, /^job complete$/m);
    const svc = JSON.parse(c.manager.dockerOk(['service', 'inspect', 'rj']))[0];
    assert.equal(svc.JobStatus.JobIteration.Index, 1);
    await waitFor(async () => (await tasksOf('rj')).filter((t) => t.JobIteration?.Index === 1 && t.Status.State === 'complete').length === 5, 60_000, 'rj iteration 1 complete', 100);
    const ts = await tasksOf('rj');
    assert.ok(ts.filter((t) => (t.JobIteration?.Index ?? 0) === 0).every((t) => t.DesiredState !== 'complete'), 'the old iteration is retired');
    assert.equal(lsRow('rj')?.REPLICAS, '0/2 (5/5 completed)');
  });

  test('the CLI waits for a job and reports its progress (create without --detach)', () => {
    const r = c.manager.docker(['service', 'create', '--name', 'rjwait', '--mode', 'replicated-job', '--replicas', '2', 'busybox', 'true'], { timeoutMs: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    // without a terminal the CLI prints the text items of its job progress: the active tasks, then the verdict
    assert.match(r.stdout, /^active tasks: \d out of 2 tasks$/m);
    assert.match(r.stdout, /^job complete$/m);
  });

  test('a failing job is retried per its restart policy (max attempts 2: three failed tasks in one slot, then none)', async () => {
    c.manager.dockerOk(['service', 'create', '--detach', '--name', 'rjfail', '--mode', 'replicated-job', '--restart-delay', '100ms', '--restart-max-attempts', '2', 'busybox', 'sh', '-c', 'exit 3']);
    await waitFor(async () => (await tasksOf('rjfail')).filter((t) => t.Status.State === 'failed' && t.DesiredState === 'shutdown').length === 3, 60_000, 'three failed attempts', 100);
    const ts = await tasksOf('rjfail');
    assert.equal(ts.length, 3, `one try and two restarts: ${JSON.stringify(ts.map((t) => [t.Status.State, t.DesiredState]))}`);
    assert.ok(ts.every((t) => t.Slot === undefined || t.Slot === 0), 'all in slot 0');
    assert.match(ts[0]!.Status.Err ?? '', /non-zero exit \(3\)/);
    assert.equal(lsRow('rjfail')?.REPLICAS, '0/1 (0/1 completed)');
    // the slot stays empty: the policy gave up
    await sleep(1000);
    assert.equal((await tasksOf('rjfail')).length, 3);
  });

  test('global job: one completed task per node, service ls "0/0 (2/2 completed)"', async () => {
    c.manager.dockerOk(['service', 'create', '--detach', '--name', 'gj', '--mode', 'global-job', 'busybox', 'true']);
    await waitFor(async () => (await tasksOf('gj')).filter((t) => t.Status.State === 'complete').length === 2, 60_000, 'gj complete on both nodes', 100);
    const ts = await tasksOf('gj');
    assert.equal(ts.length, 2);
    assert.deepEqual(ts.map((t) => t.NodeID).sort(), c.nodes.map((n) => n.nodeId).sort(), 'one task on each node');
    assert.equal(lsRow('gj')?.MODE, 'global job');
    assert.equal(lsRow('gj')?.REPLICAS, '0/0 (2/2 completed)');
    const modes = parseTable(c.manager.dockerOk(['service', 'ls', '--filter', 'mode=global-job'])).map((r) => r.NAME);
    assert.deepEqual(modes, ['gj']);
  });

  test('the shoal CLI: create --mode replicated-job follows the job to "job complete"; service ls shows its run', () => {
    const shoal = (args: string[]) => spawnSync(process.execPath, [SHOAL, '-H', c.manager.daemon.host, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, DOCKER_HOST: '', SHOAL_HOST: '' } });
    const r = shoal(['service', 'create', '--name', 'shj', '--mode', 'replicated-job', '--replicas', '3', '--max-concurrent', '2', 'busybox', 'true']);
    assert.equal(r.status, 0, r.stderr);
    // as the docker CLI without a terminal (the test above): the active tasks, then the verdict
    assert.match(r.stdout, /^active tasks: \d out of 2 tasks$/m);
    assert.match(r.stdout, /^job complete$/m);
    const ls = shoal(['service', 'ls']);
    assert.equal(ls.status, 0, ls.stderr);
    const row = parseTable(ls.stdout).find((x) => x.NAME === 'shj');
    assert.equal(row?.MODE, 'replicated job');
    assert.equal(row?.REPLICAS, '0/2 (3/3 completed)');
  });

  test('a job mode cannot change to a service mode (swarmkit: service mode change is not allowed)', async () => {
    const svc = JSON.parse(c.manager.dockerOk(['service', 'inspect', 'gj']))[0];
    const spec = { ...svc.Spec, Mode: { Replicated: { Replicas: 1 } } };
    const r = await c.manager.daemon.api<{ message: string }>('POST', `/v1.47/services/${svc.ID}/update?version=${svc.Version.Index}`, spec);
    assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
    assert.match(r.body.message, /service mode change is not allowed/);
  });
});
