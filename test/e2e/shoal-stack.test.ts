// `shoal stack` (bin/shoal.js, a separate process) against a real Shoal daemon on the process
// runtime: the seed 004 stack file with a .env, a second -c file that adds a health check and a
// `depends_on: service_healthy`, ls/ps/services, a redeploy that changes one service, rm.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestDaemon, apiRequest, dockerAvailable, freePort, parseTable, runDocker, waitFor, type TaskJson } from '../harness/daemon';

const SHOAL = path.resolve(__dirname, '..', '..', '..', 'bin', 'shoal.js');
const SEED = path.resolve(__dirname, '..', '..', '..', 'src', 'cli', 'compose', 'testdata', 'seed004.yml');

let d: TestDaemon;
let dir: string;
/** The test's environment without anything that would override the stack's .env. */
function shoalEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: '', SHOAL_HOST: '' };
  for (const k of ['NODEJS_IMAGE', 'MONGO_IMAGE', 'NODEJS_REPLICAS', 'NODEJS_PORT', 'MONGO_PORT']) delete env[k];
  return env;
}

function shoal(args: string[], timeoutMs = 60_000): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SHOAL, '-H', d.host, ...args], { encoding: 'utf8', timeout: timeoutMs, cwd: dir, env: shoalEnv() });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function ok(args: string[], timeoutMs?: number): string {
  const r = shoal(args, timeoutMs);
  if (r.status !== 0) throw new Error(`shoal ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}\n--- daemon log ---\n${d.log()}`);
  return r.stdout;
}

interface ServiceJson {
  ID: string;
  CreatedAt: string;
  Version: { Index: number };
  Spec: { Name: string; Labels: Record<string, string>; Mode: { Replicated?: { Replicas?: number } }; TaskTemplate: { ContainerSpec: { Env?: string[] } } };
}

const api = async <T>(p: string): Promise<T> => {
  const r = await apiRequest<T>(d.sock, 'GET', p);
  assert.equal(r.status, 200, `GET ${p}: ${JSON.stringify(r.body)}`);
  return r.body;
};
const services = () => api<ServiceJson[]>('/v1.47/services');
const tasksOf = (id: string) => api<TaskJson[]>(`/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { [id]: true } }))}`);

const LOOP = '["sh", "-c", "while true; do sleep 1; done"]';
let healthyFlag: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-stack-'));
  healthyFlag = path.join(dir, 'mongo-healthy');
  // The seed file, made runnable on the process runtime: images from .env, commands that keep
  // running, ports that are free here, replicas from .env. Everything else is the seed's.
  const seed = fs
    .readFileSync(SEED, 'utf8')
    .replace('image: 127.0.0.1:5000/nodejs', `image: \${NODEJS_IMAGE}\n    command: ${LOOP}`)
    .replace('image: mongo', `image: \${MONGO_IMAGE:-mongo}\n    command: ${LOOP}`)
    .replace("'3000:3000'", "'${NODEJS_PORT:-3000}:3000'")
    .replace("'27017:27017'", "'${MONGO_PORT:-27017}:27017'")
    .replace('replicas: 6', 'replicas: ${NODEJS_REPLICAS:-6}');
  fs.writeFileSync(path.join(dir, 'docker-compose.yml'), seed);
  fs.writeFileSync(path.join(dir, '.env'), `NODEJS_IMAGE=busybox:stack\nMONGO_IMAGE=busybox:stack\nNODEJS_REPLICAS=2\nNODEJS_PORT=${await freePort()}\nMONGO_PORT=${await freePort()}\n`);
  fs.writeFileSync(
    path.join(dir, 'health.yml'),
    [
      'services:',
      '  mongo:',
      '    healthcheck:',
      `      test: test -f ${healthyFlag}`,
      '      interval: 200ms',
      '      timeout: 2s',
      '      retries: 3',
      '  nodejs:',
      '    depends_on:',
      '      mongo:',
      '        condition: service_healthy',
      '',
    ].join('\n'),
  );
  d = new TestDaemon({ hostname: 'stack-node' });
  await d.start();
  ok(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`]);
});

after(async () => {
  await d?.cleanup();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a schema error names the file, the line and the key; nothing is created', () => {
  fs.writeFileSync(path.join(dir, 'bad.yml'), 'services:\n  web:\n    image: x\n    deploy:\n      replica: 2\n');
  const r = shoal(['stack', 'deploy', '-c', 'bad.yml', 'bad']);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, 'Error: bad.yml:5: services.web.deploy.replica: additional property replica is not allowed\n');
  assert.equal(r.stdout, '');
});

test('deploy: the dependent service is created only after its dependency is healthy', async (t) => {
  const child = spawn(process.execPath, [SHOAL, '-H', d.host, 'stack', 'deploy', '-c', 'docker-compose.yml', '-c', 'health.yml', 'stackdemo'], { cwd: dir, env: shoalEnv() });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? -1)));
  try {
    await waitFor(() => stdout.includes('Waiting for stackdemo_mongo to be healthy') || child.exitCode !== null, 60_000, 'the wait line');
    assert.equal(child.exitCode, null, `deploy ended early:\n${stdout}\n${stderr}`);
    // mongo runs but is not healthy yet: it stays STARTING, and nodejs does not exist
    const mongo = (await services()).find((s) => s.Spec.Name === 'stackdemo_mongo')!;
    await waitFor(async () => (await tasksOf(mongo.ID)).some((t) => t.Status.State === 'starting'), 30_000, 'mongo task starting');
    assert.deepEqual((await services()).map((s) => s.Spec.Name), ['stackdemo_mongo']);
    fs.writeFileSync(healthyFlag, 'ok');
    assert.equal(await exited, 0, stdout + stderr);
  } finally {
    child.kill();
  }
  assert.equal(
    stdout,
    'Creating network stackdemo_default\nCreating service stackdemo_mongo\nWaiting for stackdemo_mongo to be healthy (depends_on of stackdemo_nodejs): 0/1 tasks healthy\nCreating service stackdemo_nodejs\n',
  );
  assert.equal(
    stderr,
    'Ignoring unsupported options: restart\n\nbuild is not supported in a stack: service nodejs is deployed from image busybox:stack; its build section is not used\n',
  );
  const all = await services();
  const mongo = all.find((s) => s.Spec.Name === 'stackdemo_mongo')!;
  const nodejs = all.find((s) => s.Spec.Name === 'stackdemo_nodejs')!;
  const healthyAt = (await tasksOf(mongo.ID)).find((t) => t.Status.State === 'running')!.Status.Timestamp;
  assert.ok(Date.parse(nodejs.CreatedAt) >= Date.parse(healthyAt), `nodejs created ${nodejs.CreatedAt}, mongo healthy ${healthyAt}`);
  t.diagnostic(`nodejs created ${Date.parse(nodejs.CreatedAt) - Date.parse(healthyAt)} ms after mongo's task turned healthy`);
  assert.equal(nodejs.Spec.Labels['com.docker.stack.namespace'], 'stackdemo');
  assert.equal(nodejs.Spec.Mode.Replicated?.Replicas, 2, 'replicas from .env');
});

test('ls, services, ps', async () => {
  assert.deepEqual(parseTable(ok(['stack', 'ls'])), [{ NAME: 'stackdemo', SERVICES: '2' }]);
  const rows = await waitFor(() => {
    const r = parseTable(ok(['stack', 'services', 'stackdemo']));
    return r.every((x) => x.REPLICAS!.split('/')[0] === x.REPLICAS!.split('/')[1]) ? r : undefined;
  }, 60_000, 'all replicas running');
  const env = fs.readFileSync(path.join(dir, '.env'), 'utf8');
  const port = (k: string) => new RegExp(`${k}=(\\d+)`).exec(env)![1];
  assert.deepEqual(
    rows.map((r) => [r.NAME, r.MODE, r.REPLICAS, r.IMAGE, r.PORTS]),
    [
      ['stackdemo_mongo', 'replicated', '1/1', 'busybox:stack', `*:${port('MONGO_PORT')}->27017/tcp`],
      ['stackdemo_nodejs', 'replicated', '2/2', 'busybox:stack', `*:${port('NODEJS_PORT')}->3000/tcp`],
    ],
  );
  if (dockerAvailable()) {
    // the real docker CLI reads the same stack from the same labels, and prints the same tables
    for (const args of [['stack', 'ls'], ['stack', 'services', 'stackdemo']]) {
      const r = runDocker(d.host, args);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(ok(args), r.stdout, `shoal ${args.join(' ')} prints what docker ${args.join(' ')} prints`);
    }
    // ps: the same rows (CURRENT STATE says "… seconds ago", which moves between the two calls)
    const noAge = (out: string) => parseTable(out).map(({ ['CURRENT STATE']: state, ...rest }) => ({ ...rest, STATE: state!.split(' ')[0] }));
    const r = runDocker(d.host, ['stack', 'ps', 'stackdemo']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(noAge(ok(['stack', 'ps', 'stackdemo'])), noAge(r.stdout));
  }
  const ps = parseTable(ok(['stack', 'ps', 'stackdemo']));
  assert.deepEqual(ps.map((r) => [r.NAME, r.IMAGE, r.NODE, r['DESIRED STATE']]).sort(), [
    ['stackdemo_mongo.1', 'busybox:stack', 'stack-node', 'Running'],
    ['stackdemo_nodejs.1', 'busybox:stack', 'stack-node', 'Running'],
    ['stackdemo_nodejs.2', 'busybox:stack', 'stack-node', 'Running'],
  ]);
});

test('redeploy: an unchanged file changes nothing; a changed service alone is updated', async () => {
  const before = new Map((await services()).map((s) => [s.Spec.Name, s.Version.Index]));
  assert.equal(ok(['stack', 'deploy', '-c', 'docker-compose.yml', '-c', 'health.yml', 'stackdemo']), '');
  for (const s of await services()) assert.equal(s.Version.Index, before.get(s.Spec.Name), `${s.Spec.Name} untouched`);

  fs.appendFileSync(path.join(dir, 'health.yml'), '    environment:\n      - COLOR=blue\n');
  const out = ok(['stack', 'deploy', '-c', 'docker-compose.yml', '-c', 'health.yml', 'stackdemo']);
  const nodejs = (await services()).find((s) => s.Spec.Name === 'stackdemo_nodejs')!;
  assert.equal(out, `Updating service stackdemo_nodejs (id: ${nodejs.ID})\n`);
  assert.deepEqual(nodejs.Spec.TaskTemplate.ContainerSpec.Env, ['COLOR=blue', 'DATABASE_HOST=mongo', 'PORT=3000']);
  const after = new Map((await services()).map((s) => [s.Spec.Name, s.Version.Index]));
  assert.equal(after.get('stackdemo_mongo'), before.get('stackdemo_mongo'), 'mongo untouched');
  assert.ok(after.get('stackdemo_nodejs')! > before.get('stackdemo_nodejs')!);
  await waitFor(async () => (await tasksOf(nodejs.ID)).filter((t) => t.DesiredState === 'running' && t.Status.State === 'running' && (t.Spec.ContainerSpec?.Env ?? []).includes('COLOR=blue')).length === 2, 60_000, 'nodejs rolled');
});

test('rm removes the services and the network; the stack is gone', async () => {
  assert.equal(ok(['stack', 'rm', 'stackdemo']), 'Removing service stackdemo_mongo\nRemoving service stackdemo_nodejs\nRemoving network stackdemo_default\n');
  assert.deepEqual(await services(), []);
  const nets = await api<{ Name: string }[]>('/v1.47/networks');
  assert.deepEqual(nets.map((n) => n.Name).filter((n) => n.startsWith('stackdemo')), []);
  assert.equal(ok(['stack', 'ls']), 'NAME      SERVICES\n');
  const r = shoal(['stack', 'rm', 'stackdemo']);
  assert.equal(r.status, 0);
  assert.equal(r.stderr, 'Nothing found in stack: stackdemo\n');
});

test('--prune removes the services the file no longer names; without it they stay', async () => {
  const svc = (n: string) => [`  ${n}:`, '    image: busybox:stack', `    command: ${LOOP}`];
  fs.writeFileSync(path.join(dir, 'two.yml'), ['services:', ...svc('a'), ...svc('b'), ''].join('\n'));
  fs.writeFileSync(path.join(dir, 'one.yml'), ['services:', ...svc('a'), ''].join('\n'));
  assert.equal(ok(['stack', 'deploy', '-c', 'two.yml', 'prunes']), 'Creating network prunes_default\nCreating service prunes_a\nCreating service prunes_b\n');
  assert.equal(ok(['stack', 'deploy', '-c', 'one.yml', 'prunes']), '');
  assert.deepEqual((await services()).map((s) => s.Spec.Name).sort(), ['prunes_a', 'prunes_b']);
  assert.equal(ok(['stack', 'deploy', '--prune', '-c', 'one.yml', 'prunes']), 'Removing service prunes_b\n');
  assert.deepEqual((await services()).map((s) => s.Spec.Name), ['prunes_a']);
  assert.equal(ok(['stack', 'rm', 'prunes']), 'Removing service prunes_a\nRemoving network prunes_default\n');
});

test('a dependency that never gets healthy: a bounded wait, a clear error, the dependent not created', async () => {
  fs.writeFileSync(
    path.join(dir, 'never.yml'),
    ['services:', '  db:', '    image: busybox:stack', `    command: ${LOOP}`, '    healthcheck: {test: "false", interval: 200ms, retries: 1000}', '  web:', '    image: busybox:stack', `    command: ${LOOP}`, '    depends_on: {db: {condition: service_healthy}}', ''].join('\n'),
  );
  const r = shoal(['stack', 'deploy', '--depends-timeout', '2s', '-c', 'never.yml', 'never']);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.equal(r.stderr, 'Error: timed out after 2s waiting for service never_db to be healthy (depends_on of never_web): 0/1 tasks healthy\n');
  assert.deepEqual((await services()).map((s) => s.Spec.Name), ['never_db']);
  assert.equal(ok(['stack', 'rm', 'never']), 'Removing service never_db\nRemoving network never_default\n');
});

// Runs once the daemon serves /secrets and /configs (issue 12's `secrets` work); until then a
// daemon that answers 404/501 there makes it skip, saying so.
test('secrets and configs of the file are created through /secrets and /configs, referenced by ID, removed by rm', async (t) => {
  // A daemon without the API may still list empty collections, so ask it to create one (and drop it).
  for (const kind of ['secrets', 'configs']) {
    const r = await apiRequest<{ ID?: string; message?: string }>(d.sock, 'POST', `/v1.47/${kind}/create`, { Name: `probe-${kind}`, Data: Buffer.from('x').toString('base64') });
    if (r.status === 404 || r.status === 501) return t.skip(`the daemon cannot create ${kind} yet (${r.status} ${r.body?.message ?? ''})`);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal((await apiRequest(d.sock, 'DELETE', `/v1.47/${kind}/${r.body.ID}`)).status, 204);
  }
  fs.writeFileSync(path.join(dir, 'token.txt'), 's3cret\n');
  fs.writeFileSync(path.join(dir, 'site.conf'), 'listen 80;\n');
  fs.writeFileSync(
    path.join(dir, 'objects.yml'),
    ['services:', '  web:', '    image: busybox:stack', `    command: ${LOOP}`, '    secrets: [token]', '    configs:', '      - source: site', '        target: /etc/site.conf', 'secrets:', '  token: {file: ./token.txt}', 'configs:', '  site: {file: ./site.conf}', ''].join('\n'),
  );
  assert.equal(ok(['stack', 'deploy', '-c', 'objects.yml', 'objs']), 'Creating network objs_default\nCreating secret objs_token\nCreating config objs_site\nCreating service objs_web\n');
  const secrets = await api<{ ID: string; Spec: { Name: string; Labels: Record<string, string> } }[]>('/v1.47/secrets');
  const configs = await api<{ ID: string; Spec: { Name: string; Data?: string } }[]>('/v1.47/configs');
  const secret = secrets.find((s) => s.Spec.Name === 'objs_token')!;
  const config = configs.find((c) => c.Spec.Name === 'objs_site')!;
  assert.equal(secret.Spec.Labels['com.docker.stack.namespace'], 'objs');
  assert.equal(Buffer.from(config.Spec.Data ?? '', 'base64').toString(), 'listen 80;\n');
  const web = (await api<{ Spec: { TaskTemplate: { ContainerSpec: { Secrets: unknown[]; Configs: unknown[] } } } }[]>('/v1.47/services')).find(() => true)!;
  assert.deepEqual(web.Spec.TaskTemplate.ContainerSpec.Secrets, [{ File: { Name: 'token', UID: '0', GID: '0', Mode: 292 }, SecretID: secret.ID, SecretName: 'objs_token' }]);
  assert.deepEqual(web.Spec.TaskTemplate.ContainerSpec.Configs, [{ File: { Name: '/etc/site.conf', UID: '0', GID: '0', Mode: 292 }, ConfigID: config.ID, ConfigName: 'objs_site' }]);
  assert.equal(ok(['stack', 'deploy', '-c', 'objects.yml', 'objs']), '', 'a redeploy of the same file updates the objects in place and leaves the service alone');
  assert.equal(ok(['stack', 'rm', 'objs']), 'Removing service objs_web\nRemoving secret objs_token\nRemoving config objs_site\nRemoving network objs_default\n');
  assert.deepEqual((await api<{ Spec: { Name: string } }[]>('/v1.47/secrets')).filter((s) => s.Spec.Name.startsWith('objs')), []);
});
