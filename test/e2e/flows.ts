// The single-node flows of the seeds, driven by the real docker CLI against a Shoal daemon.
// Shared by the process-runtime and docker-runtime suites (same assertions on both).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestDaemon, freePort, parseTable, waitFor, type DaemonOptions, type TaskJson } from '../harness/daemon';

export interface FlowEnv {
  runtime: 'process' | 'docker';
  image: string;
  engine?: string;
  /** Kills a task's container/process behind Shoal's back. */
  killTask(d: TestDaemon, containerId: string, pid: number | undefined): Promise<void>;
}

const TOKEN_RE = /SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}/;


export function singleNodeFlows(env: FlowEnv, skip?: string): void {
  describe(`single node through the docker CLI (${env.runtime} runtime)`, { skip, concurrency: false }, () => {
    let d: TestDaemon;
    // Each suite listens on its own port so suites can run side by side.
    let port = 0;
    const opts = (): DaemonOptions => ({ runtime: env.runtime, engine: env.engine, hostname: `shoal-${env.runtime}` });
    const tasksOf = (svc: string): Promise<TaskJson[]> => d.tasksOf(svc);
    const running = (svc: string): Promise<TaskJson[]> => d.runningTasks(svc);
    const create = (args: string[]) => d.dockerOk(['service', 'create', '--detach', '--stop-grace-period', '1s', ...args]).trim();

    before(async () => {
      port = await freePort();
      d = new TestDaemon(opts());
      await d.start();
    });
    after(async () => {
      // Remove services so no task outlives the test (docker runtime: containers in the CI engine).
      if (d) {
        await d.teardown();
      }
    });

    test('a fresh daemon is a standalone engine: swarm commands say it is not a manager', () => {
      const info = d.dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim();
      assert.equal(info, 'inactive');
      const r = d.docker(['node', 'ls']);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /This node is not a swarm manager\. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again\./);
    });

    test('docker swarm init makes it a manager and prints the join command', () => {
      const out = d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${port}`]);
      assert.match(out, /Swarm initialized: current node \([0-9a-z]{25}\) is now a manager\./);
      assert.match(out, new RegExp(`docker swarm join --token ${TOKEN_RE.source} 127\\.0\\.0\\.1:${port}`));
      assert.match(out, /To add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions\./);
      const again = d.docker(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${port}`]);
      assert.notEqual(again.status, 0);
      assert.match(again.stderr, /This node is already part of a swarm/);
    });

    test('docker info shows the swarm block', () => {
      const out = d.dockerOk(['info', '--format', '{{json .Swarm}}']);
      const s = JSON.parse(out);
      assert.equal(s.LocalNodeState, 'active');
      assert.equal(s.ControlAvailable, true);
      assert.equal(s.Nodes, 1);
      assert.equal(s.Managers, 1);
      assert.equal(s.Cluster.Spec.Raft.ElectionTick, 10);
      assert.equal(s.Cluster.Spec.Dispatcher.HeartbeatPeriod, 5_000_000_000);
      assert.equal(s.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit, 5);
      const text = d.dockerOk(['info']);
      assert.match(text, /Swarm: active/);
      assert.match(text, /Is Manager: true/);
    });

    test('join tokens: worker and manager differ, rotate changes only the one asked for', () => {
      const w = d.dockerOk(['swarm', 'join-token', '-q', 'worker']).trim();
      const m = d.dockerOk(['swarm', 'join-token', '-q', 'manager']).trim();
      assert.match(w, new RegExp(`^${TOKEN_RE.source}$`));
      assert.match(m, new RegExp(`^${TOKEN_RE.source}$`));
      assert.notEqual(w, m);
      assert.equal(w.split('-')[2], m.split('-')[2], 'both tokens pin the same CA digest');
      const text = d.dockerOk(['swarm', 'join-token', 'worker']);
      assert.match(text, /To add a worker to this swarm, run the following command:/);
      assert.ok(text.includes(`docker swarm join --token ${w} 127.0.0.1:${port}`));
      d.dockerOk(['swarm', 'join-token', '--rotate', 'worker']);
      const w2 = d.dockerOk(['swarm', 'join-token', '-q', 'worker']).trim();
      assert.notEqual(w2, w);
      assert.equal(d.dockerOk(['swarm', 'join-token', '-q', 'manager']).trim(), m);
    });

    test('docker node ls / inspect / update', () => {
      const rows = parseTable(d.dockerOk(['node', 'ls']));
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.match(row.ID!, /^[0-9a-z]{25} \*$/);
      assert.equal(row.HOSTNAME, `shoal-${env.runtime}`);
      assert.equal(row.STATUS, 'Ready');
      assert.equal(row.AVAILABILITY, 'Active');
      assert.equal(row['MANAGER STATUS'], 'Leader');
      const id = row.ID!.replace(' *', '');
      const pretty = d.dockerOk(['node', 'inspect', '--pretty', 'self']);
      assert.match(pretty, new RegExp(`ID:\\s+${id}`));
      assert.match(pretty, /Hostname:\s+shoal-/);
      assert.match(pretty, /State:\s+Ready/);
      assert.match(pretty, /Availability:\s+Active/);
      d.dockerOk(['node', 'update', '--label-add', 'zone=a', '--label-add', 'disk=ssd', id]);
      const labels = JSON.parse(d.dockerOk(['node', 'inspect', '--format', '{{json .Spec.Labels}}', id]));
      assert.deepEqual(labels, { zone: 'a', disk: 'ssd' });
      d.dockerOk(['node', 'update', '--availability', 'pause', id]);
      assert.equal(parseTable(d.dockerOk(['node', 'ls']))[0]!.AVAILABILITY, 'Pause');
      d.dockerOk(['node', 'update', '--availability', 'active', id]);
      assert.equal(parseTable(d.dockerOk(['node', 'ls']))[0]!.AVAILABILITY, 'Active');
      const bad = d.docker(['node', 'inspect', 'nosuchnode']);
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /nosuchnode/);
    });

    test('docker service create (with progress) converges and ls/ps/inspect show it', () => {
      const r = d.docker(['service', 'create', '--name', 'web', '--replicas', '3', '--stop-grace-period', '1s', '--env', 'GREETING=hi', env.image, 'sleep', '1000'], { timeoutMs: 60_000 });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      const out = r.stdout;
      // the test image is in no registry: /distribution fails (at once), the CLI warns and pins no
      // digest, only the tag it adds when there is none
      const tagged = /:[^/]+$/.test(env.image) ? env.image : `${env.image}:latest`;
      assert.ok(r.stderr.includes(`image ${tagged} could not be accessed on a registry to record`), r.stderr);
      assert.equal(d.dockerOk(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'web']).trim(), tagged);
      assert.match(out, /overall progress: 3 out of 3 tasks/);
      assert.match(out, /verify: Service (web|[0-9a-z]{25}) converged/);
      const ls = parseTable(d.dockerOk(['service', 'ls']));
      const web = ls.find((r) => r.NAME === 'web');
      assert.ok(web, 'web listed');
      assert.equal(web.MODE, 'replicated');
      assert.equal(web.REPLICAS, '3/3');
      const ps = parseTable(d.dockerOk(['service', 'ps', 'web']));
      assert.equal(ps.length, 3);
      assert.deepEqual(ps.map((r) => r.NAME).sort(), ['web.1', 'web.2', 'web.3']);
      for (const r of ps) {
        assert.equal(r.NODE, `shoal-${env.runtime}`);
        assert.equal(r['DESIRED STATE'], 'Running');
        assert.match(r['CURRENT STATE']!, /^Running /);
      }
      const pretty = d.dockerOk(['service', 'inspect', '--pretty', 'web']);
      assert.match(pretty, /Name:\s+web/);
      assert.match(pretty, /Replicas:\s+3/);
      assert.match(pretty, /GREETING=hi/);
      const json = JSON.parse(d.dockerOk(['service', 'inspect', 'web']));
      assert.equal(json[0].Spec.Name, 'web');
      assert.equal(json[0].Spec.Mode.Replicated.Replicas, 3);
      assert.equal(json[0].internal, undefined, 'internal fields never leave the daemon');
    });

    test('name conflicts, bad names and unknown services get Docker-style errors', () => {
      const dup = d.docker(['service', 'create', '--detach', '--name', 'web', env.image, 'sleep', '1']);
      assert.notEqual(dup.status, 0);
      assert.match(dup.stderr, /service web already exists|name conflicts with an existing object/);
      const badName = d.docker(['service', 'create', '--detach', '--name', 'bad name!', env.image, 'sleep', '1']);
      assert.notEqual(badName.status, 0);
      assert.match(badName.stderr, /name must be valid as a DNS name component/);
      const missing = d.docker(['service', 'inspect', 'nosuch']);
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /no such service: nosuch/i);
    });

    test('docker service scale up and down', async () => {
      const out = d.dockerOk(['service', 'scale', 'web=5'], { timeoutMs: 60_000 });
      assert.match(out, /web scaled to 5/);
      await waitFor(async () => (await running('web')).length === 5, 30_000, '5 running');
      d.dockerOk(['service', 'update', '--detach', '--replicas', '2', 'web']);
      await waitFor(async () => (await tasksOf('web')).filter((t) => t.DesiredState === 'running').length === 2, 30_000, '2 desired running');
      await waitFor(async () => (await running('web')).length === 2, 30_000, '2 running');
      const ls = parseTable(d.dockerOk(['service', 'ls']));
      assert.equal(ls.find((r) => r.NAME === 'web')!.REPLICAS, '2/2');
    });

    test('docker service update --env-add replaces the tasks with the new spec', async () => {
      d.dockerOk(['service', 'update', '--detach', '--env-add', 'COLOR=blue', '--update-monitor', '100ms', 'web']);
      await waitFor(
        async () => {
          const r = await running('web');
          return r.length === 2 && r.every((t) => t.Spec.ContainerSpec?.Env?.includes('COLOR=blue'));
        },
        60_000,
        'tasks with COLOR=blue',
      );
      const ps = d.dockerOk(['service', 'ps', 'web']);
      assert.match(ps, /\\_ web\.1/, 'history row of the replaced task');
      const svc = JSON.parse(d.dockerOk(['service', 'inspect', 'web']))[0];
      assert.ok(svc.PreviousSpec, 'PreviousSpec kept');
      assert.ok(!svc.PreviousSpec.TaskTemplate.ContainerSpec.Env.includes('COLOR=blue'));
    });

    test('a killed task is replaced and stays in history as failed', async () => {
      const before = await running('web');
      const victim = before[0]!;
      await env.killTask(d, victim.Status.ContainerStatus!.ContainerID!, victim.Status.ContainerStatus?.PID);
      await waitFor(
        async () => {
          const all = await tasksOf('web');
          const old = all.find((t) => t.ID === victim.ID);
          const repl = all.find((t) => t.Slot === victim.Slot && t.ID !== victim.ID && t.Status.State === 'running');
          return old?.Status.State === 'failed' && repl;
        },
        30_000,
        'victim failed and replaced',
      );
      const all = await tasksOf('web');
      const old = all.find((t) => t.ID === victim.ID)!;
      assert.equal(old.Status.Err, 'task: non-zero exit (137)');
      assert.equal(old.DesiredState, 'shutdown');
    });

    test('docker service logs shows the tasks output', async () => {
      create(['--name', 'talker', env.image, 'sh', '-c', 'echo hello-from-task; sleep 1000']);
      await waitFor(async () => (await running('talker')).length === 1, 30_000, 'talker running');
      const logs = await waitFor(() => {
        const out = d.docker(['service', 'logs', 'talker']);
        return out.stdout.includes('hello-from-task') ? out.stdout : '';
      }, 20_000, 'log line');
      assert.match(logs, /^talker\.1\.[0-9a-z]+@shoal-\w+\s+\| hello-from-task$/m);
      const raw = d.dockerOk(['service', 'logs', '--raw', '--timestamps', 'talker']);
      assert.match(raw, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z hello-from-task$/m);
    });

    test('docker service logs --follow streams new lines; --tail limits the backlog', async () => {
      create(['--name', 'ticker', env.image, 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done']);
      await waitFor(async () => (await running('ticker')).length === 1, 30_000, 'ticker running');
      await waitFor(() => d.docker(['service', 'logs', '--raw', 'ticker']).stdout.includes('tick-3'), 20_000, 'three ticks');
      const tail = d.dockerOk(['service', 'logs', '--raw', '--tail', '1', 'ticker']).trim().split('\n');
      assert.equal(tail.length, 1, `one line with --tail 1: ${tail.join('|')}`);
      // follow: the CLI keeps the stream open; stop it after a while and check it saw lines it had not at the start
      const followed = d.docker(['service', 'logs', '--raw', '--follow', '--tail', '1', 'ticker'], { timeoutMs: 2500 });
      const ticks = followed.stdout.trim().split('\n').filter((l) => l.startsWith('tick-'));
      assert.ok(ticks.length >= 3, `follow kept streaming: ${JSON.stringify(followed.stdout)}`);
      const nums = ticks.map((l) => Number(l.slice(5)));
      assert.deepEqual(nums, [...nums].sort((a, b) => a - b), 'lines in order');
      d.dockerOk(['service', 'rm', 'ticker']);
    });

    test('workdir, env, user and limits reach the task', async () => {
      create(['--name', 'shaped', '--workdir', '/tmp', '--user', '0', '--env', 'SHAPE=round', '--limit-memory', '64m', '--limit-cpu', '0.5', '--reserve-memory', '4m', env.image, 'sleep', '1000']);
      const [t] = await waitFor(async () => {
        const r = await running('shaped');
        return r.length === 1 ? r : undefined;
      }, 30_000, 'shaped running');
      const cs = t!.Status.ContainerStatus!;
      assert.ok(cs.ContainerID && /^[0-9a-f]{64}$/.test(cs.ContainerID), `container ID ${cs.ContainerID}`);
      if (env.runtime === 'docker') {
        // through Shoal's socket: non-swarm paths go to the node's engine
        const c = JSON.parse(d.dockerOk(['inspect', cs.ContainerID]))[0];
        assert.equal(c.Config.WorkingDir, '/tmp');
        assert.equal(c.Config.User, '0');
        assert.ok(c.Config.Env.includes('SHAPE=round'));
        assert.equal(c.HostConfig.Memory, 64 * 1024 * 1024);
        assert.equal(c.HostConfig.NanoCpus, 500_000_000);
        assert.equal(c.Config.Labels['com.docker.swarm.service.name'], 'shaped');
        assert.equal(c.Config.Labels['com.docker.swarm.task.id'], t!.ID);
        assert.equal(c.Name, `/shaped.1.${t!.ID}`);
      } else {
        const fs = await import('node:fs');
        assert.equal(fs.readlinkSync(`/proc/${cs.PID}/cwd`), '/tmp');
        assert.ok(fs.readFileSync(`/proc/${cs.PID}/environ`, 'utf8').split('\0').includes('SHAPE=round'));
      }
      d.dockerOk(['service', 'rm', 'shaped']);
    });

    test('a task that fits nowhere stays pending with the reason', async () => {
      create(['--name', 'picky', '--constraint', 'node.labels.zone==mars', env.image, 'sleep', '1000']);
      const rows = await waitFor(() => {
        const ps = parseTable(d.dockerOk(['service', 'ps', '--no-trunc', 'picky']));
        return ps.length === 1 && ps[0]!.ERROR ? ps : undefined;
      }, 20_000, 'pending reason');
      assert.match(rows[0]!['CURRENT STATE']!, /^Pending/);
      assert.equal(rows[0]!.ERROR, '"no suitable node (scheduling constraints not satisfied on 1 node)"');
      create(['--name', 'hungry', '--reserve-memory', '100000g', env.image, 'sleep', '1000']);
      const rows2 = await waitFor(() => {
        const ps = parseTable(d.dockerOk(['service', 'ps', '--no-trunc', 'hungry']));
        return ps.length === 1 && ps[0]!.ERROR ? ps : undefined;
      }, 20_000, 'pending reason');
      assert.equal(rows2[0]!.ERROR, '"no suitable node (insufficient resources on 1 node)"');
      create(['--name', 'spread', '--replicas', '2', '--replicas-max-per-node', '1', env.image, 'sleep', '1000']);
      await waitFor(async () => (await running('spread')).length === 1, 20_000, 'one spread task running');
      const pending = await waitFor(async () => (await tasksOf('spread')).find((t) => t.Status.State === 'pending' && t.Status.Err), 20_000, 'second pending');
      assert.match(pending.Status.Err!, /^no suitable node \(max replicas per node limit exceed/);
      // A matching label makes the picky task schedulable.
      const id = d.dockerOk(['info', '--format', '{{.Swarm.NodeID}}']).trim();
      d.dockerOk(['node', 'update', '--label-add', 'zone=mars', id]);
      await waitFor(async () => (await running('picky')).length === 1, 20_000, 'picky running after label');
      for (const s of ['picky', 'hungry', 'spread']) d.dockerOk(['service', 'rm', s]);
    });

    test('global mode runs one task on the node; restart-condition none leaves a failed task alone', async () => {
      create(['--name', 'everywhere', '--mode', 'global', env.image, 'sleep', '1000']);
      await waitFor(async () => (await running('everywhere')).length === 1, 20_000, 'global task running');
      const ls = parseTable(d.dockerOk(['service', 'ls']));
      assert.equal(ls.find((r) => r.NAME === 'everywhere')!.MODE, 'global');
      assert.equal(ls.find((r) => r.NAME === 'everywhere')!.REPLICAS, '1/1');
      create(['--name', 'once', '--restart-condition', 'none', env.image, 'sh', '-c', 'exit 3']);
      const failed = await waitFor(async () => (await tasksOf('once')).find((t) => t.Status.State === 'failed'), 20_000, 'failed task');
      assert.equal(failed.Status.Err, 'task: non-zero exit (3)');
      assert.equal((await tasksOf('once')).length, 1, 'no replacement for condition none');
      create(['--name', 'flaky', '--restart-condition', 'on-failure', '--restart-delay', '100ms', '--restart-max-attempts', '2', env.image, 'sh', '-c', 'exit 1']);
      await waitFor(async () => (await tasksOf('flaky')).filter((t) => t.Status.State === 'failed').length === 3, 30_000, 'three failed attempts');
      const ok = create(['--name', 'done', '--restart-condition', 'on-failure', env.image, 'sh', '-c', 'exit 0']);
      assert.ok(ok);
      await waitFor(async () => (await tasksOf('done')).some((t) => t.Status.State === 'complete'), 20_000, 'complete');
      assert.equal((await tasksOf('done')).length, 1, 'a completed task is not restarted on-failure');
      for (const s of ['everywhere', 'once', 'flaky', 'done']) d.dockerOk(['service', 'rm', s]);
    });

    test('the state survives a daemon restart and running tasks are kept', async () => {
      const before = (await running('web')).map((t) => t.ID).sort();
      assert.equal(before.length, 2);
      await d.stop();
      d = new TestDaemon({ ...opts(), dataDir: d.dataDir });
      await d.start();
      const ls = parseTable(d.dockerOk(['service', 'ls']));
      assert.ok(ls.find((r) => r.NAME === 'web'));
      await waitFor(async () => (await running('web')).length === 2, 30_000, 'web running after restart');
      assert.deepEqual((await running('web')).map((t) => t.ID).sort(), before, 'the same tasks keep running');
    });

    test('docker service rm, then inspect says no such service', async () => {
      d.dockerOk(['service', 'rm', 'web', 'talker']);
      const r = d.docker(['service', 'inspect', 'web']);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /no such service: web/i);
      await waitFor(async () => (await d.api<unknown[]>('GET', '/v1.47/tasks')).body.length === 0, 30_000, 'tasks removed');
    });
  });
}
