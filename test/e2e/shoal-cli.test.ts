// The shoal CLI (bin/shoal.js, a separate process) against a real Shoal daemon on the process runtime.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { TestDaemon, parseTable, waitFor, freePort } from '../harness/daemon';

const SHOAL = path.resolve(__dirname, '..', '..', '..', 'bin', 'shoal.js');

let d: TestDaemon;

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

function shoal(args: string[], timeoutMs = 60_000): Result {
  const r = spawnSync(process.execPath, [SHOAL, '-H', d.host, ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, DOCKER_HOST: '', SHOAL_HOST: '' } });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function ok(args: string[], timeoutMs?: number): string {
  const r = shoal(args, timeoutMs);
  if (r.status !== 0) throw new Error(`shoal ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}\n--- daemon log ---\n${d.log()}`);
  return r.stdout;
}

const LOOP = 'while true; do echo hello from task $$; sleep 1; done';

let swarmPort = 0;

before(async () => {
  swarmPort = await freePort();
  d = new TestDaemon({ hostname: 'cli-node' });
  await d.start();
});

after(async () => {
  await d?.cleanup();
});

test('version and info before the swarm exists', () => {
  const v = ok(['version']);
  assert.match(v, /^Client:\n Version: +\S+\n API version: +1\.47\n/);
  assert.match(v, /\nServer: Shoal\n Engine:\n  Version: +\S+/);
  assert.match(ok(['info']), /\n Swarm: inactive\n/);
});

test('swarm init, join-token, node ls/inspect/update', () => {
  const init = ok(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${swarmPort}`]);
  const m = /^Swarm initialized: current node \((\w+)\) is now a manager\.\n\nTo add a worker to this swarm, run the following command:\n\n {4}shoal swarm join --token (SWMTKN-1-\S+) (\S+:\d+)\n\nTo add a manager to this swarm, run 'shoal swarm join-token manager' and follow the instructions\.\n/.exec(init);
  assert.ok(m, init);
  const [, nodeId, workerToken] = m;
  assert.match(ok(['info']), /\n Swarm: active\n  NodeID: \w+\n  Is Manager: true\n/);

  assert.equal(ok(['swarm', 'join-token', '-q', 'worker']), `${workerToken}\n`);
  const mgr = ok(['swarm', 'join-token', 'manager']);
  assert.match(mgr, /^To add a manager to this swarm, run the following command:\n\n {4}shoal swarm join --token SWMTKN-1-\S+ \S+:\d+\n\n$/);
  const rotated = ok(['swarm', 'join-token', '--rotate', '-q', 'worker']).trim();
  assert.notEqual(rotated, workerToken);

  const rows = parseTable(ok(['node', 'ls']));
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0], { ID: `${nodeId} *`, HOSTNAME: 'cli-node', STATUS: 'Ready', AVAILABILITY: 'Active', 'MANAGER STATUS': 'Leader', 'ENGINE VERSION': rows[0]!['ENGINE VERSION'] });

  assert.equal(ok(['node', 'update', '--label-add', 'zone=eu', nodeId!]), `${nodeId}\n`);
  const inspected = JSON.parse(ok(['node', 'inspect', 'self'])) as { ID: string; Spec: { Labels: Record<string, string> } }[];
  assert.equal(inspected[0]!.ID, nodeId);
  assert.deepEqual(inspected[0]!.Spec.Labels, { zone: 'eu' });
  const pretty = ok(['node', 'inspect', '--pretty', 'self']);
  assert.match(pretty, /^ID:\t+\w+\n/);
  assert.match(pretty, /Hostname: +\tcli-node\n/);
  assert.match(pretty, / Leader:\t+Yes\n/);
});

test('service create converges; ls, ps, inspect, logs', async () => {
  const out = ok(['service', 'create', '--name', 'web', '--replicas', '2', '--constraint', 'node.labels.zone==eu', 'busybox', 'sh', '-c', LOOP], 120_000);
  const lines = out.trim().split('\n');
  assert.match(lines[0]!, /^\w{25}$/);
  assert.match(out, /overall progress: 2 out of 2 tasks\n/);
  // After create the docker CLI names the service by the ID it got back.
  assert.equal(lines.at(-1), `verify: Service ${lines[0]} converged`);

  const ls = parseTable(ok(['service', 'ls']));
  assert.deepEqual(ls, [{ ID: lines[0]!.slice(0, 12), NAME: 'web', MODE: 'replicated', REPLICAS: '2/2', IMAGE: 'busybox', PORTS: '' }]);

  const ps = parseTable(ok(['service', 'ps', 'web']));
  assert.deepEqual(
    ps.map((r) => [r.NAME, r.NODE, r['DESIRED STATE']]),
    [
      ['web.1', 'cli-node', 'Running'],
      ['web.2', 'cli-node', 'Running'],
    ],
  );
  for (const r of ps) assert.match(r['CURRENT STATE']!, /^Running (less than a second|\d+ seconds?) ago$/);

  const spec = (JSON.parse(ok(['service', 'inspect', 'web'])) as { Spec: { TaskTemplate: { ContainerSpec: { Args: string[]; Command?: string[] } } } }[])[0]!.Spec;
  assert.deepEqual(spec.TaskTemplate.ContainerSpec.Args, ['sh', '-c', LOOP]);
  assert.equal(spec.TaskTemplate.ContainerSpec.Command, undefined);
  assert.match(ok(['service', 'inspect', '--pretty', 'web']), /\nName:\t\tweb\nService Mode:\tReplicated\n Replicas:\t2\n/);

  const logs = await waitFor(() => {
    const l = ok(['service', 'logs', 'web']);
    return new Set(l.split('\n').filter(Boolean).map((x) => x.split(' ')[0])).size >= 2 ? l : '';
  }, 20_000, 'logs of both replicas');
  for (const line of logs.trim().split('\n')) assert.match(line, /^web\.[12]\.\w{12}@cli-node {4}\| hello from task \d+$/);
  const ts = ok(['service', 'logs', '-t', '--tail', '1', 'web']);
  assert.match(ts.split('\n')[0]!, /^\d{4}-\d\d-\d\dT\S+Z web\.[12]\.\w{12}@cli-node {4}\| hello from task \d+$/);
});

test('scale, update (history rows), rollback', () => {
  assert.match(ok(['service', 'scale', 'web=3'], 120_000), /^web scaled to 3\n(.|\n)*verify: Service web converged\n$/);
  assert.equal(parseTable(ok(['service', 'ls']))[0]!.REPLICAS, '3/3');

  const upd = ok(['service', 'update', '--env-add', 'COLOR=blue', '--update-parallelism', '3', 'web'], 120_000);
  assert.match(upd, /^web\n(.|\n)*verify: Service web converged\n$/);
  const ps = parseTable(ok(['service', 'ps', 'web']));
  assert.equal(ps.filter((r) => r['DESIRED STATE'] === 'Running').length, 3);
  assert.ok(ps.some((r) => r.NAME === '\\_ web.1' && r['DESIRED STATE'] === 'Shutdown'), JSON.stringify(ps));
  const env = (JSON.parse(ok(['service', 'inspect', 'web'])) as { Spec: { TaskTemplate: { ContainerSpec: { Env?: string[] } } } }[])[0]!.Spec.TaskTemplate.ContainerSpec.Env;
  assert.deepEqual(env, ['COLOR=blue']);

  assert.match(ok(['service', 'rollback', 'web'], 120_000), /^web\nrollback: manually requested rollback\n(.|\n)*verify: Service web converged\n$/);
  const after = (JSON.parse(ok(['service', 'inspect', 'web'])) as { Spec: { TaskTemplate: { ContainerSpec: { Env?: string[] } } } }[])[0]!.Spec.TaskTemplate.ContainerSpec.Env;
  assert.ok(!after || after.length === 0, JSON.stringify(after));
});

test('node ps lists the tasks of this node', () => {
  const rows = parseTable(ok(['node', 'ps']));
  assert.ok(rows.filter((r) => r['DESIRED STATE'] === 'Running').length >= 3, JSON.stringify(rows));
});

test('errors read like docker and exit 1', () => {
  const r = shoal(['service', 'inspect', 'nope']);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'Error: no such service: nope\n');
  assert.match(shoal(['service', 'scale', 'nope=1']).stderr, /^nope: Error response from daemon: .*nope.*\n$/);
  const s = shoal(['service', 'scale', 'web']);
  assert.equal(s.status, 1);
  assert.match(s.stderr, /invalid scale specifier 'web'/);
});

test('service rm, then swarm leave --force', async () => {
  assert.equal(ok(['service', 'rm', 'web']), 'web\n');
  await waitFor(() => parseTable(ok(['service', 'ls'])).length === 0, 10_000, 'service list empty');
  assert.equal(ok(['swarm', 'leave', '--force']), 'Node left the swarm.\n');
  assert.match(ok(['info']), /\n Swarm: inactive\n/);
});
