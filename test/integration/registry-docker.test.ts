// Issue 12, images: three hosts (network namespaces, an engine each) and real registries (Debian's
// docker-registry, distribution 2.8) on the hosts' bridge, one open and one behind htpasswd auth.
// An image pushed from h1's engine with the real docker CLI exists nowhere else: the CLI pins the
// registry's digest, and the docker executor of every other host pulls it (by that digest, with
// the --with-registry-auth credentials for the private one). A pull failure gives Docker's
// rejected-task message; a rollback shows the tag as given.
// Needs root, dockerd and docker-registry: runs under CI=true, skips elsewhere with the reason.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitFor, type TaskJson } from '../harness/daemon';
import { HOSTS_IMAGE, TestHosts, type TestHost } from '../harness/hosts';
import { TestRegistry, registryTestOptions } from '../harness/registry';

const USER = 'shoal';
const PASSWORD = 'registry-pass-7c1d';

describe('images from a registry on every host (docker runtime, 3 hosts)', { ...registryTestOptions(), concurrency: false, timeout: 300_000 }, () => {
  let hs: TestHosts;
  let open: TestRegistry;
  let priv: TestRegistry;
  /** The CLI's config dir for this run (docker login writes the credentials there). */
  let cliConfig: string;
  const nodeHost = new Map<string, TestHost>();
  const m = () => hs.host(1);
  const cli = (args: string[], input?: string) => m().docker(['--config', cliConfig, ...args], { timeoutMs: 120_000, ...(input ? { input } : {}) });
  const cliOk = (args: string[], input?: string) => {
    const r = cli(args, input);
    assert.equal(r.status, 0, `docker ${args.join(' ')}:\n${r.stdout}\n${r.stderr}\n--- daemon log ---\n${m().shoal!.log()}`);
    return r;
  };
  const engineOk = (h: TestHost, args: string[]) => h.engineDockerOk(['--config', cliConfig, ...args], { timeoutMs: 120_000 });
  const tasks = (service: string): Promise<TaskJson[]> => m().shoal!.tasksOf(service);
  const hasImage = (h: TestHost, ref: string) => h.engineDocker(['image', 'inspect', ref]).status === 0;

  before(async () => {
    hs = await TestHosts.up({ count: 3, registryOnBridge: true });
    cliConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-registry-cli-'));
    [open, priv] = await Promise.all([TestRegistry.start({ host: hs.bridgeIp }), TestRegistry.start({ host: hs.bridgeIp, users: { [USER]: PASSWORD } })]);
    for (const [id, h] of await hs.swarmOfWorkers()) nodeHost.set(id, h);
  });

  after(async () => {
    await hs?.down();
    await Promise.all([open?.stop(), priv?.stop()]);
    if (cliConfig) fs.rmSync(cliConfig, { recursive: true, force: true });
  });

  test('an image only in the registry: the CLI pins its digest, every host pulls it, 3 replicas converge on 3 hosts', async () => {
    const ref = `${open.addr}/app:1`;
    engineOk(m(), ['tag', HOSTS_IMAGE, ref]);
    engineOk(m(), ['push', ref]);
    const digest = await open.digest('app', '1');
    assert.match(digest ?? '', /^sha256:[0-9a-f]{64}$/);
    for (const h of hs.hosts.slice(1)) assert.equal(hasImage(h, ref), false, `${h.name} has no ${ref} before`);

    const r = cliOk(['service', 'create', '--replicas', '3', '--name', 'app', '--stop-grace-period', '1s', '--update-monitor', '1s', '--rollback-monitor', '1s', ref, 'sleep', '100000']);
    assert.match(r.stdout, /verify: Service (\S+) converged/);
    assert.equal(r.stderr.includes('could not be accessed on a registry'), false, r.stderr);
    const pinned = `${ref}@${digest}`;
    assert.equal(cliOk(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'app']).stdout.trim(), pinned);
    assert.match(cliOk(['service', 'inspect', '--pretty', 'app']).stdout, new RegExp(`\\n Image:\\s+${pinned.replace(/[.]/g, '\\.')}\\n`));
    // service ps shows the tag, the digest only with --no-trunc (as Docker)
    assert.deepEqual(cliOk(['service', 'ps', '--format', '{{.Image}}', 'app']).stdout.split('\n').filter(Boolean), [ref, ref, ref]);
    assert.deepEqual(cliOk(['service', 'ps', '--no-trunc', '--format', '{{.Image}}', 'app']).stdout.split('\n').filter(Boolean), [pinned, pinned, pinned]);

    const running = (await tasks('app')).filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
    assert.equal(running.length, 3);
    assert.equal(new Set(running.map((t) => nodeHost.get(t.NodeID!)!.name)).size, 3, 'one task per host');
    for (const h of hs.hosts) assert.ok(hasImage(h, `${open.addr}/app@${digest}`), `${h.name}'s engine has the image by its digest now`);
  });

  test('a pull failure (no such repository): the task is rejected with Docker\'s message', async () => {
    const ref = `${open.addr}/nope:1`;
    const r = cli(['service', 'create', '--detach', '--name', 'nope', '--constraint', 'node.hostname==h2', ref, 'sleep', '100000']);
    assert.equal(r.status, 0, r.stderr);
    // the registry has no digest to give: the CLI keeps the tag and warns, as with Docker
    assert.ok(r.stderr.includes(`image ${ref} could not be accessed on a registry to record`), r.stderr);
    const rejected = await waitFor(
      async () => (await tasks('nope')).find((t) => t.Status.State === 'rejected'),
      60_000,
      'a rejected task',
    );
    assert.equal(rejected.Status.Err, `No such image: ${ref}`);
    const errors = cliOk(['service', 'ps', '--no-trunc', '--format', '{{.Error}}', 'nope']).stdout.split('\n').filter(Boolean);
    assert.ok(errors.includes(`"No such image: ${ref}"`), errors.join('\n'));
    cliOk(['service', 'rm', 'nope']);
  });

  test('a private registry: --with-registry-auth pulls on every host; without it other hosts cannot; credentials never shown', async () => {
    const ref = `${priv.addr}/secret:1`;
    const login = cliOk(['login', priv.addr, '-u', USER, '--password-stdin'], PASSWORD);
    assert.match(login.stdout, /Login Succeeded/);
    engineOk(m(), ['tag', HOSTS_IMAGE, ref]);
    engineOk(m(), ['push', ref]);
    const digest = await priv.digest('secret', '1', { user: USER, password: PASSWORD });
    assert.match(digest ?? '', /^sha256:/);

    // without credentials: h2 cannot pull, the task is rejected
    cliOk(['service', 'create', '--detach', '--name', 'noauth', '--constraint', 'node.hostname==h2', ref, 'sleep', '100000']);
    const rejected = await waitFor(async () => (await tasks('noauth')).find((t) => t.Status.State === 'rejected'), 60_000, 'noauth rejected');
    assert.match(rejected.Status.Err ?? '', /^No such image: /);
    assert.equal(hasImage(hs.host(2), ref), false);
    cliOk(['service', 'rm', 'noauth']);

    const r = cliOk(['service', 'create', '--with-registry-auth', '--mode', 'global', '--name', 'priv', '--stop-grace-period', '1s', '--update-monitor', '1s', ref, 'sleep', '100000']);
    assert.match(r.stdout, /verify: Service (\S+) converged/);
    assert.equal(cliOk(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'priv']).stdout.trim(), `${ref}@${digest}`);
    const running = (await tasks('priv')).filter((t) => t.Status.State === 'running');
    assert.equal(new Set(running.map((t) => nodeHost.get(t.NodeID!)!.name)).size, 3);
    for (const h of hs.hosts) assert.ok(hasImage(h, `${priv.addr}/secret@${digest}`), `${h.name} pulled the private image`);

    // the encoded credentials are in no answer and no log
    const encoded = JSON.parse(fs.readFileSync(path.join(cliConfig, 'config.json'), 'utf8')).auths[priv.addr].auth as string;
    assert.ok(encoded);
    const inspect = cliOk(['service', 'inspect', 'priv']).stdout + JSON.stringify((await m().shoal!.api('GET', '/tasks')).body);
    assert.equal(/RegistryAuth|PullOptions/.test(inspect), false);
    for (const h of hs.hosts) {
      const log = fs.readFileSync(path.join(h.shoal!.dataDir, 'daemon.log'), 'utf8');
      assert.equal(log.includes(PASSWORD) || log.includes(encoded), false, `${h.name}'s log has no credentials`);
    }

    // an update without --with-registry-auth keeps the credentials: the new tasks still pull
    const ref2 = `${priv.addr}/secret:2`;
    engineOk(m(), ['tag', HOSTS_IMAGE, ref2]);
    engineOk(m(), ['push', ref2]);
    for (const h of hs.hosts.slice(1)) h.engineDocker(['rmi', '-f', `${priv.addr}/secret@${digest}`]);
    cliOk(['service', 'update', '--force', '--image', ref2, 'priv']);
    const fresh = (await tasks('priv')).filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
    assert.equal(fresh.length, 3);
    assert.ok(fresh.every((t) => t.Spec.ContainerSpec?.Image.startsWith(ref2)), 'all on the new image');
  });

  test('update and rollback: service ps shows the tag as given', async () => {
    const ref2 = `${open.addr}/app:2`;
    engineOk(m(), ['tag', HOSTS_IMAGE, ref2]);
    engineOk(m(), ['push', ref2]);
    cliOk(['service', 'update', '--image', ref2, 'app']);
    assert.equal(cliOk(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'app']).stdout.trim().split('@')[0], ref2);
    const rb = cliOk(['service', 'rollback', 'app']);
    assert.match(rb.stdout, /rollback: manually requested rollback/);
    assert.equal(cliOk(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'app']).stdout.trim().split('@')[0], `${open.addr}/app:1`);
    const shown = cliOk(['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Image}}', 'app']).stdout.split('\n').filter(Boolean);
    assert.deepEqual(shown, [`${open.addr}/app:1`, `${open.addr}/app:1`, `${open.addr}/app:1`]);
  });

  test('docker stack deploy --with-registry-auth: a private image pulled on every host', async () => {
    const ref = `${priv.addr}/stackimg:1`;
    commitDistinct(m(), ref, 'STACK=1');
    engineOk(m(), ['push', ref]);
    const f = path.join(cliConfig, 'stack.yml');
    fs.writeFileSync(f, ["version: '3.8'", 'services:', '  app:', `    image: ${ref}`, '    command: sleep 100000', '    deploy:', '      mode: global', ''].join('\n'));
    const r = cliOk(['stack', 'deploy', '--with-registry-auth', '-c', f, 'privstack']);
    assert.match(r.stdout, /Creating service privstack_app/);
    const all = await waitFor(async () => {
      const ts = (await tasks('privstack_app')).filter((t) => t.Status.State === 'running');
      return ts.length === 3 ? ts : undefined;
    }, 90_000, 'privstack_app running on 3 hosts');
    assert.equal(new Set(all.map((t) => t.NodeID)).size, 3);
    const digest = await priv.digest('stackimg', '1', { user: USER, password: PASSWORD });
    for (const h of hs.hosts) assert.ok(hasImage(h, `${priv.addr}/stackimg@${digest}`), `${h.name} pulled it`);
    assert.equal(/RegistryAuth|PullOptions/.test(cliOk(['service', 'inspect', 'privstack_app']).stdout), false);
    cliOk(['stack', 'rm', 'privstack']);
  });

  test('DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 in a daemon\'s environment: its node never pulls (Docker\'s switch)', async () => {
    const h3 = hs.host(3);
    await h3.shoal!.stop();
    h3.shoal!.opts.env = { DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' };
    await h3.shoal!.start();
    const ref = `${open.addr}/app:offline`;
    commitDistinct(m(), ref, 'OFFLINE=1');
    engineOk(m(), ['push', ref]);
    const digest = await open.digest('app', 'offline');
    cliOk(['service', 'create', '--detach', '--name', 'offline', '--constraint', 'node.hostname==h3', ref, 'sleep', '100000']);
    const rejected = await waitFor(async () => (await tasks('offline')).find((t) => t.Status.State === 'rejected'), 60_000, 'offline rejected on h3');
    assert.equal(rejected.Status.Err, `No such image: ${ref}@${digest}`);
    assert.equal(hasImage(h3, `${open.addr}/app@${digest}`), false, 'h3 did not pull');
    // the same image on h2 (pulls allowed) runs
    cliOk(['service', 'update', '--detach', '--constraint-rm', 'node.hostname==h3', '--constraint-add', 'node.hostname==h2', 'offline']);
    await waitFor(async () => (await tasks('offline')).some((t) => t.Status.State === 'running'), 60_000, 'offline running on h2');
    cliOk(['service', 'rm', 'offline']);
  });
});

/** An image with its own digest (the test image's layers, one more ENV), tagged `ref` in h's engine. */
function commitDistinct(h: TestHost, ref: string, env: string): void {
  const name = `c${Math.random().toString(16).slice(2, 10)}`;
  for (const args of [['create', '--name', name, HOSTS_IMAGE, 'true'], ['commit', '--change', `ENV ${env}`, name, ref], ['rm', name]]) h.engineDockerOk(args);
}
