// Issue 5 flows: rolling updates, rollbacks, restart policy and health checks, driven by the real
// docker CLI against a Shoal daemon. Shared by the process-runtime and docker-runtime suites.
// Delays and monitor periods are shortened (the seeds' 10 s delay becomes 1 s); every wait is bounded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestDaemon, freePort, parseTable, sleep, waitFor, type DaemonOptions, type TaskJson } from '../harness/daemon';

export interface UpdateFlowEnv {
  runtime: 'process' | 'docker';
  image: string;
  /** A second name of a runnable image (the "new version" of a rolling update). */
  image2: string;
  engine?: string;
  /** Flags of `docker service update` that make the new tasks fail (a missing image or a failing command). */
  failing: string[];
  /** What a task made from `failing` reports as its error. */
  failingErr: RegExp;
  /** Flags that make host directory `dir` visible at the same path inside a task. */
  shareDir(dir: string): string[];
  /** docker runtime: an image whose HEALTHCHECK succeeds once `<dir>/healthy` exists. */
  imageWithHealthcheck?(dir: string): string;
}


interface ServiceJson {
  ID: string;
  Spec: { TaskTemplate: { ContainerSpec: { Image: string; Env?: string[]; Args?: string[] } } };
  PreviousSpec?: { TaskTemplate: { ContainerSpec: { Image: string; Env?: string[]; Args?: string[] } } } | null;
  UpdateStatus?: { State: string; Message?: string; StartedAt?: string; CompletedAt?: string };
}

const LONG = 90_000;
/**
 * The update monitor period of the services whose `docker service update` output is checked for "converged".
 * The CLI polls every 200 ms and, like Docker's own, returns silently (no "verify: … converged") when its first look
 * after the new tasks start already shows UpdateStatus "completed". Any monitor near the poll interval plus three API
 * round trips makes that a race in Docker as in Shoal (CI lost it once at 200 ms on a loaded machine); 1 s leaves the
 * CLI several polls inside the window.
 */
const MONITOR = '1s';
/** An image reference without the digest the CLI may pin (`name:tag@sha256:…`). */
const bare = (ref: string | undefined): string | undefined => ref?.split('@')[0];

export function updateFlows(env: UpdateFlowEnv, skip?: string): void {
  describe(`rolling updates, rollbacks and health through the docker CLI (${env.runtime} runtime)`, { skip, concurrency: false }, () => {
    let d: TestDaemon;
    let flagDir: string;
    const opts = (): DaemonOptions => ({ runtime: env.runtime, engine: env.engine, hostname: `upd-${env.runtime}` });
    const tasksOf = (svc: string): Promise<TaskJson[]> => d.tasksOf(svc);
    const running = (svc: string): Promise<TaskJson[]> => d.runningTasks(svc);
    const inspect = (svc: string): ServiceJson => JSON.parse(d.dockerOk(['service', 'inspect', svc]))[0];
    const state = (svc: string): string | undefined => inspect(svc).UpdateStatus?.State;
    const waitState = (svc: string, want: string) => waitFor(() => state(svc) === want, LONG, `${svc} UpdateStatus ${want}`, 200);
    /** The combined output of a CLI command that follows the update's progress (non-detached). */
    const follow = (args: string[]) => {
      const r = d.docker(args, { timeoutMs: 120_000 });
      return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
    };
    const allRunWith = async (svc: string, n: number, ok: (t: TaskJson) => boolean) => {
      const r = await running(svc);
      return r.length === n && r.every(ok);
    };

    before(async () => {
      flagDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-upd-flags-'));
      d = new TestDaemon(opts());
      await d.start();
      // each suite listens on its own swarm port so suites can run side by side
      const port = await freePort();
      d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${port}`]);
    });
    after(async () => {
      if (d) {
        await d.teardown();
      }
      if (flagDir) fs.rmSync(flagDir, { recursive: true, force: true });
    });

    test('rolling update of three replicas (stop-first, parallelism 1, delay): converges slot by slot, history rows, UpdateStatus, PreviousSpec', async () => {
      const created = d.dockerOk(
        ['service', 'create', '--name', 'redis', '--replicas', '3', '--update-delay', '1s', '--update-monitor', MONITOR, '--stop-grace-period', '1s', env.image, 'sleep', '1000'],
        { timeoutMs: LONG },
      );
      assert.match(created, /verify: Service (redis|[0-9a-z]{25}) converged/);
      const before = (await running('redis')).map((t) => t.ID);
      assert.equal(before.length, 3);
      const pretty0 = d.dockerOk(['service', 'inspect', '--pretty', 'redis']);
      assert.match(pretty0, /UpdateConfig:\n Parallelism:\t1\n Delay:\t\t1s\n On failure:\tpause\n Monitoring Period: 1s\n Max failure ratio: 0\n Update order:      stop-first/);
      assert.match(pretty0, /RollbackConfig:\n Parallelism:\t1\n On failure:\tpause\n Monitoring Period: 5s\n Max failure ratio: 0\n Rollback order:    stop-first/);

      const r = follow(['service', 'update', '--image', env.image2, 'redis']);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /overall progress: 3 out of 3 tasks/);
      assert.match(r.out, /verify: Service (redis|[0-9a-z]{25}) converged/);
      assert.ok(await allRunWith('redis', 3, (t) => bare(t.Spec.ContainerSpec?.Image) === env.image2 && !before.includes(t.ID)), 'three new tasks run the new image');

      // one replacement at a time: each new task was created after the previous slot's new task ran
      const fresh = (await running('redis')).map((t) => ({ slot: t.Slot, at: Date.parse(t.CreatedAt) })).sort((a, b) => a.at - b.at);
      assert.equal(new Set(fresh.map((t) => t.slot)).size, 3);
      for (let i = 1; i < fresh.length; i++) assert.ok(fresh[i]!.at > fresh[i - 1]!.at, 'replacements made one after another');

      const ps = parseTable(d.dockerOk(['service', 'ps', 'redis']));
      assert.deepEqual(ps.map((row) => row.NAME), ['redis.1', '\\_ redis.1', 'redis.2', '\\_ redis.2', 'redis.3', '\\_ redis.3']);
      for (const row of ps) {
        if (row.NAME!.startsWith('\\_')) {
          assert.equal(row.IMAGE, env.image);
          assert.equal(row['DESIRED STATE'], 'Shutdown');
          assert.match(row['CURRENT STATE']!, /^Shutdown /);
        } else {
          assert.equal(row.IMAGE, env.image2);
          assert.match(row['CURRENT STATE']!, /^Running /);
        }
      }
      const raw = d.dockerOk(['service', 'ps', 'redis']);
      assert.match(raw, /^\w{12}\s{4}\\_ redis\.1\s/m, 'history row indented as docker prints it');

      await waitState('redis', 'completed');
      const svc = inspect('redis');
      assert.equal(svc.UpdateStatus?.Message, 'update completed');
      assert.ok(svc.UpdateStatus?.StartedAt && svc.UpdateStatus.CompletedAt);
      assert.equal(bare(svc.PreviousSpec?.TaskTemplate.ContainerSpec.Image), env.image);
      const pretty = d.dockerOk(['service', 'inspect', '--pretty', 'redis']);
      assert.match(pretty, /UpdateStatus:\n State:\t\tcompleted\n Started:\t.+ ago\n Completed:\t.+ ago\n Message:\tupdate completed\n/);
    });

    test('start-first ordering: N+1 tasks run briefly, the old one stops after the new one runs', async () => {
      // `trap '' TERM` is inherited by sleep: every stop takes the whole grace period, so the overlap is long enough to see.
      d.dockerOk(['service', 'create', '--detach', '--name', 'sf', '--replicas', '2', '--stop-grace-period', '2s', '--update-order', 'start-first', '--update-monitor', '200ms', env.image, 'sh', '-c', "trap '' TERM; sleep 1000"]);
      await waitFor(async () => (await running('sf')).length === 2, LONG, 'sf running');
      d.dockerOk(['service', 'update', '--detach', '--env-add', 'V=2', 'sf']);
      let most = 0;
      await waitFor(
        async () => {
          const all = await tasksOf('sf');
          most = Math.max(most, all.filter((t) => t.Status.State === 'running').length);
          return (await allRunWith('sf', 2, (t) => !!t.Spec.ContainerSpec?.Env?.includes('V=2'))) && all.filter((t) => t.Status.State === 'running').length === 2;
        },
        LONG,
        'sf updated',
        50,
      );
      // the new task runs before the old one is told to stop (which then takes its grace period)
      assert.ok(most >= 3, `N+1 tasks running at once during a start-first update of two replicas (saw ${most})`);
      await waitState('sf', 'completed');
      const pretty = d.dockerOk(['service', 'inspect', '--pretty', 'sf']);
      assert.match(pretty, /Update order:\s+start-first/);
      d.dockerOk(['service', 'rm', 'sf']);
    });

    test('docker service update --force replaces every task (parallelism 0 = all at once)', async () => {
      const before = (await running('redis')).map((t) => t.ID);
      const r = follow(['service', 'update', '--force', '--update-parallelism', '0', '--update-delay', '0s', 'redis']);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /verify: Service (redis|[0-9a-z]{25}) converged/);
      const after = await running('redis');
      assert.equal(after.length, 3);
      assert.ok(after.every((t) => !before.includes(t.ID)), 'every task replaced');
      assert.equal(bare(inspect('redis').Spec.TaskTemplate.ContainerSpec.Image), env.image2);
      // back to one at a time for what follows (no task changes: as in swarmkit, no UpdateStatus is written)
      d.dockerOk(['service', 'update', '--detach', '--update-parallelism', '1', '--update-delay', '200ms', 'redis']);
      assert.equal(state('redis'), undefined);
    });

    test('a failing update pauses; docker service rollback restores the previous spec', async () => {
      const r = follow(['service', 'update', ...env.failing, 'redis']);
      assert.notEqual(r.status, 0, r.out);
      assert.match(r.out, /service update paused: update paused due to failure or early termination of task [0-9a-z]{25}/);
      const svc = inspect('redis');
      assert.equal(svc.UpdateStatus?.State, 'paused');
      const failedId = /task ([0-9a-z]{25})/.exec(svc.UpdateStatus!.Message!)![1]!;
      // The named task may already be gone: the restart supervisor retries the failing slot and the
      // task reaper keeps only the newest tasks of a slot. Any task of that slot tells the same story.
      const all = await tasksOf('redis');
      const named = all.find((t) => t.ID === failedId);
      const failed = named ?? all.find((t) => /^(failed|rejected)$/.test(t.Status.State) && env.failingErr.test(t.Status.Err ?? ''));
      assert.ok(failed, `a failed task of the new spec: ${JSON.stringify(all.map((t) => [t.ID, t.Status.State, t.Status.Err]))}`);
      assert.match(failed.Status.State, /^(failed|rejected)$/);
      assert.match(failed.Status.Err ?? '', env.failingErr);
      assert.match(d.dockerOk(['service', 'inspect', '--pretty', 'redis']), /UpdateStatus:\n State:\t\tpaused\n Started:\t.+\n Message:\tupdate paused due to failure or early termination of task /);
      // the other slots were left alone (parallelism 1): two tasks of the good spec still run
      assert.ok((await running('redis')).filter((t) => bare(t.Spec.ContainerSpec?.Image) === env.image2).length >= 2);

      const rb = follow(['service', 'rollback', 'redis']);
      assert.equal(rb.status, 0, rb.out);
      assert.match(rb.out, /rollback: manually requested rollback/);
      assert.match(rb.out, /overall progress: rolling back update: 3 out of 3 tasks/);
      assert.match(rb.out, /verify: Service (redis|[0-9a-z]{25}) converged/);
      await waitFor(() => allRunWith('redis', 3, (t) => bare(t.Spec.ContainerSpec?.Image) === env.image2 && !t.Spec.ContainerSpec?.Args?.includes('exit 3')), LONG, 'rolled back tasks');
      await waitState('redis', 'rollback_completed');
      const back = inspect('redis');
      assert.equal(back.UpdateStatus?.Message, 'rollback completed');
      assert.equal(bare(back.Spec.TaskTemplate.ContainerSpec.Image), env.image2);
      assert.deepEqual(back.Spec.TaskTemplate.ContainerSpec.Args, ['sleep', '1000']);
    });

    test('docker service update with no change resumes a paused update', async () => {
      // The new command fails until a flag file exists: the update pauses; once the file is there,
      // an update without changes resumes it and it completes.
      const flag = path.join(flagDir, 'go');
      const script = `test -f ${flag} || exit 3; sleep 1000`;
      d.dockerOk(['service', 'create', '--detach', '--name', 'gate', '--replicas', '3', '--update-delay', '1s', '--update-monitor', MONITOR, '--restart-delay', '200ms', '--stop-grace-period', '1s', ...env.shareDir(flagDir), env.image, 'sleep', '1000']);
      await waitFor(async () => (await running('gate')).length === 3, LONG, 'gate running');
      const r = follow(['service', 'update', '--args', `sh -c '${script}'`, 'gate']);
      assert.notEqual(r.status, 0, r.out);
      assert.match(r.out, /service update paused/);
      assert.equal(state('gate'), 'paused');
      fs.writeFileSync(flag, 'ok');
      const resumed = follow(['service', 'update', 'gate']);
      assert.equal(resumed.status, 0, resumed.out);
      assert.match(resumed.out, /verify: Service (gate|[0-9a-z]{25}) converged/);
      await waitFor(() => allRunWith('gate', 3, (t) => !!t.Spec.ContainerSpec?.Args?.join(' ').includes('test -f')), LONG, 'gate updated');
      await waitState('gate', 'completed');
      d.dockerOk(['service', 'rm', 'gate']);
    });

    test('--update-failure-action rollback rolls back automatically', async () => {
      const r = follow(['service', 'update', '--update-failure-action', 'rollback', '--rollback-monitor', '1s', '--rollback-parallelism', '0', ...env.failing, 'redis']);
      assert.match(r.out, /rollback: update rolled back due to failure or early termination of task [0-9a-z]{25}/);
      await waitState('redis', 'rollback_completed');
      const svc = inspect('redis');
      assert.equal(bare(svc.Spec.TaskTemplate.ContainerSpec.Image), env.image2);
      assert.deepEqual(svc.Spec.TaskTemplate.ContainerSpec.Args, ['sleep', '1000']);
      assert.equal(svc.UpdateStatus?.Message, 'rollback completed');
      await waitFor(() => allRunWith('redis', 3, (t) => bare(t.Spec.ContainerSpec?.Image) === env.image2 && t.Spec.ContainerSpec?.Args?.join(' ') === 'sleep 1000'), LONG, 'previous spec running');
      // the whole previous spec came back, UpdateConfig included
      assert.match(d.dockerOk(['service', 'inspect', '--pretty', 'redis']), /UpdateConfig:\n Parallelism:\t1\n Delay:\t\t200ms\n On failure:\tpause\n/);
    });

    test('docker service update --rollback restores the previous spec', async () => {
      const up = follow(['service', 'update', '--env-add', 'COLOR=green', 'redis']);
      assert.equal(up.status, 0, up.out);
      await waitState('redis', 'completed');
      const r = follow(['service', 'update', '--rollback', 'redis']);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /verify: Service (redis|[0-9a-z]{25}) converged/);
      await waitFor(() => allRunWith('redis', 3, (t) => !(t.Spec.ContainerSpec?.Env ?? []).includes('COLOR=green')), LONG, 'COLOR gone');
      await waitState('redis', 'rollback_completed');
      const svc = inspect('redis');
      assert.ok(!(svc.Spec.TaskTemplate.ContainerSpec.Env ?? []).includes('COLOR=green'));
      assert.ok(svc.PreviousSpec?.TaskTemplate.ContainerSpec.Env?.includes('COLOR=green'), 'the rolled-back spec becomes PreviousSpec');
      const ps = d.dockerOk(['service', 'ps', 'redis']);
      assert.match(ps, /\\_ redis\.1/);
      d.dockerOk(['service', 'rm', 'redis']);
    });

    test('global service updates node by node', async () => {
      d.dockerOk(['service', 'create', '--detach', '--name', 'glob', '--mode', 'global', '--update-monitor', MONITOR, '--stop-grace-period', '1s', env.image, 'sleep', '1000']);
      await waitFor(async () => (await running('glob')).length === 1, LONG, 'glob running');
      const r = follow(['service', 'update', '--env-add', 'G=1', 'glob']);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /verify: Service (glob|[0-9a-z]{25}) converged/);
      await waitState('glob', 'completed');
      const ps = parseTable(d.dockerOk(['service', 'ps', 'glob']));
      assert.equal(ps.length, 2);
      assert.match(ps[0]!.NAME!, /^glob\.[0-9a-z]{25}$/);
      assert.match(ps[1]!.NAME!, /^\\_ glob\.[0-9a-z]{25}$/);
      d.dockerOk(['service', 'rm', 'glob']);
    });

    test('restart policy on-failure: retried with the delay, gives up after max attempts within the window', async () => {
      d.dockerOk(['service', 'create', '--detach', '--name', 'crashy', '--restart-condition', 'on-failure', '--restart-delay', '300ms', '--restart-max-attempts', '2', '--restart-window', '30s', env.image, 'sh', '-c', 'exit 7']);
      await waitFor(async () => (await tasksOf('crashy')).filter((t) => t.Status.State === 'failed').length === 3, LONG, 'three failed attempts');
      for (const t of await tasksOf('crashy')) assert.equal(t.Status.Err, 'task: non-zero exit (7)');
      await sleep(1500);
      assert.equal((await tasksOf('crashy')).length, 3, 'no fourth attempt');
      assert.ok((await tasksOf('crashy')).every((t) => t.DesiredState === 'shutdown'));
      const any = ['service', 'create', '--detach', '--name', 'loop', '--restart-condition', 'any', '--restart-delay', '200ms', '--restart-max-attempts', '1', env.image, 'sh', '-c', 'exit 0'];
      d.dockerOk(any);
      await waitFor(async () => (await tasksOf('loop')).filter((t) => t.Status.State === 'complete').length === 2, LONG, 'condition any restarts a clean exit');
      d.dockerOk(['service', 'rm', 'crashy', 'loop']);
    });

    test('a health check gates RUNNING and an unhealthy task is failed and replaced', async () => {
      const healthy = path.join(flagDir, 'healthy');
      fs.writeFileSync(healthy, 'ok');
      const out = d.dockerOk(
        [
          'service', 'create', '--name', 'hc', '--health-cmd', `test -f ${healthy}`, '--health-interval', '200ms', '--health-timeout', '2s',
          '--health-retries', '2', '--health-start-period', '0s', '--restart-delay', '200ms', '--stop-grace-period', '1s', ...env.shareDir(flagDir),
          env.image, 'sleep', '1000',
        ],
        { timeoutMs: LONG },
      );
      assert.match(out, /verify: Service (hc|[0-9a-z]{25}) converged/);
      const first = (await running('hc'))[0]!;
      const hc = JSON.parse(d.dockerOk(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}', 'hc']));
      assert.deepEqual(hc, { Test: ['CMD-SHELL', `test -f ${healthy}`], Interval: 200_000_000, Timeout: 2_000_000_000, Retries: 2 });
      fs.rmSync(healthy);
      const failed = await waitFor(async () => (await tasksOf('hc')).find((t) => t.ID === first.ID && t.Status.State === 'failed'), LONG, 'unhealthy task failed');
      assert.match(failed.Status.Err ?? '', /unhealthy container/);
      // the replacement does not reach RUNNING while unhealthy
      const repl = await waitFor(async () => (await tasksOf('hc')).find((t) => t.ID !== first.ID && t.Status.State === 'starting'), LONG, 'replacement starting');
      fs.writeFileSync(healthy, 'ok');
      await waitFor(async () => (await running('hc')).length === 1, LONG, 'a healthy replacement runs');
      assert.ok((await tasksOf('hc')).some((t) => t.ID === repl.ID || t.Status.State === 'running'));
      // --no-healthcheck: the update replaces the task; the new one runs without a check
      d.dockerOk(['service', 'update', '--detach', '--no-healthcheck', 'hc']);
      await waitFor(async () => (await allRunWith('hc', 1, (t) => t.ID !== first.ID)) && state('hc') === 'completed', LONG, 'update without health check');
      const test2 = JSON.parse(d.dockerOk(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}', 'hc']));
      assert.deepEqual(test2.Test, ['NONE']);
      d.dockerOk(['service', 'rm', 'hc']);
    });

    test("the image's HEALTHCHECK keeps a task STARTING until healthy", { skip: env.imageWithHealthcheck ? undefined : 'the process runtime has no image config' }, async () => {
      const image = env.imageWithHealthcheck!(flagDir);
      const healthy = path.join(flagDir, 'healthy');
      fs.rmSync(healthy, { force: true });
      d.dockerOk(['service', 'create', '--detach', '--name', 'imghc', '--stop-grace-period', '1s', ...env.shareDir(flagDir), image, 'sleep', '1000']);
      const t = await waitFor(async () => (await tasksOf('imghc')).find((x) => x.Status.State === 'starting'), LONG, 'task starting');
      fs.writeFileSync(healthy, 'ok');
      await waitFor(async () => (await running('imghc')).some((x) => x.ID === t.ID), LONG, 'the same task running once healthy');
      d.dockerOk(['service', 'rm', 'imghc']);
    });
  });
}
