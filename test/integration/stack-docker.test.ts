// Issue 12, seed 004 through the real docker CLI: a registry on the hosts' bridge (Debian's
// docker-registry), images pushed to it from h1's engine (busybox-based stand-ins for the seed's
// node.js app and mongo), and `docker stack deploy -c docker-compose.yml stackdemo` of the seed's
// compose file on three hosts (network namespaces, an engine each, docker runtime): 6 replicas
// spread over the hosts with their limits in the engines, port 3000 answered on every host through
// the routing mesh, the named volume on the host that runs mongo, stack ls/services/ps, a redeploy
// that changes one service only, --prune, --resolve-image never, the file's secret and config read inside a
// task on every host, and stack rm leaving no service, secret, config or
// network (volumes stay, as with Docker).
// Needs root, dockerd and docker-registry: runs under CI=true, skips elsewhere with the reason.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseTable, waitFor, type TaskJson } from '../harness/daemon';
import { HOSTS_IMAGE, TestHosts, type TestHost } from '../harness/hosts';
import { httpGet } from '../harness/probes';
import { TestRegistry, registryTestOptions } from '../harness/registry';

const STACK = 'stackdemo';
const NS_LABEL = 'com.docker.stack.namespace';
const SECRET = `pw-${process.pid}-${Date.now()}`;

/**
 * Seed 004's compose file: its images from the local registry (REG), `mongo` a busybox stand-in,
 * the app a busybox httpd on 3000 serving the test image's /www page. `build`, `restart` and
 * `depends_on` stay in, as in the seed: the CLI ignores them in a stack.
 */
function composeFile(reg: string, opts: { mongoEnv?: string; withMongo?: boolean } = {}): string {
  const mongo = [
    '  mongo:',
    `    image: ${reg}/mongo`,
    '    command: sleep 100000',
    '    stop_grace_period: 1s',
    ...(opts.mongoEnv ? ['    environment:', `      - ${opts.mongoEnv}`] : []),
    '    ports:',
    "      - '27017:27017'",
    '    volumes:',
    '      - mongo_data:/data/db',
  ];
  return [
    "version: '3'",
    '',
    'services:',
    '  nodejs:',
    `    image: ${reg}/nodejs`,
    '    build:',
    '      context: ./',
    '      dockerfile: Dockerfile',
    '    restart: always',
    '    command: httpd -f -p 3000 -h /www',
    '    stop_grace_period: 1s',
    '    environment:',
    '      - DATABASE_HOST=mongo',
    '      - PORT=3000',
    '    ports:',
    "      - '3000:3000'",
    ...(opts.withMongo === false ? [] : ['    depends_on: [mongo]']),
    '    secrets:',
    '      - db_password',
    '    configs:',
    '      - source: app_conf',
    '        target: /app.conf',
    '    deploy:',
    '      replicas: 6',
    '      update_config:',
    '        parallelism: 2',
    '        delay: 10s',
    '      restart_policy:',
    '        condition: on-failure',
    '      resources:',
    '        limits:',
    '          cpus: "0.1"',
    '          memory: 1G',
    ...(opts.withMongo === false ? [] : mongo),
    '',
    'volumes:',
    '  mongo_data: {}',
    '',
    // files relative to the compose file, as the CLI reads them (written in before())
    'secrets:',
    '  db_password:',
    '    file: ./db_password.txt',
    'configs:',
    '  app_conf:',
    '    file: ./app.conf',
    '',
  ].join('\n');
}

describe('seed 004: docker stack deploy of a compose file on three hosts (docker runtime, real CLI)', { ...registryTestOptions(), concurrency: false, timeout: 300_000 }, () => {
  let hs: TestHosts;
  let reg: TestRegistry;
  let dir: string;
  const nodeHost = new Map<string, TestHost>();
  const m = () => hs.host(1);
  const cliOk = (args: string[]) => {
    const r = m().docker(args, { timeoutMs: 120_000 });
    assert.equal(r.status, 0, `docker ${args.join(' ')}:\n${r.stdout}\n${r.stderr}\n--- daemon log ---\n${m().shoal!.log()}`);
    return r;
  };
  const engineOk = (h: TestHost, args: string[]) => h.engineDockerOk(args, { timeoutMs: 120_000 });
  const writeCompose = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const running = async (service: string): Promise<TaskJson[]> => m().shoal!.runningTasks(service);
  const containerOf = (h: TestHost, taskId: string) => engineOk(h, ['ps', '-q', '--filter', `label=com.docker.swarm.task.id=${taskId}`]).trim();

  before(async () => {
    hs = await TestHosts.up({ count: 3, registryOnBridge: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-stack-'));
    fs.writeFileSync(path.join(dir, 'db_password.txt'), SECRET);
    fs.writeFileSync(path.join(dir, 'app.conf'), 'listen=3000\n');
    reg = await TestRegistry.start({ host: hs.bridgeIp });
    for (const [id, h] of await hs.swarmOfWorkers()) nodeHost.set(id, h);
    for (const image of ['nodejs', 'mongo']) {
      engineOk(m(), ['tag', HOSTS_IMAGE, `${reg.addr}/${image}`]);
      engineOk(m(), ['push', `${reg.addr}/${image}`]);
    }
  });

  after(async () => {
    await hs?.down();
    await reg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('stack deploy: network, services with the stack label and pinned digests; 6 replicas spread with their limits; port 3000 on every host; the volume where mongo runs', async () => {
    const file = writeCompose('docker-compose.yml', composeFile(reg.addr));
    const r = cliOk(['stack', 'deploy', '--compose-file', file, STACK]);
    assert.match(r.stdout, new RegExp(`Creating network ${STACK}_default\\n`));
    assert.match(r.stdout, new RegExp(`Creating service ${STACK}_nodejs\\n`));
    assert.match(r.stdout, new RegExp(`Creating service ${STACK}_mongo\\n`));
    assert.match(r.stdout, new RegExp(`Creating secret ${STACK}_db_password\\n`));
    assert.match(r.stdout, new RegExp(`Creating config ${STACK}_app_conf\\n`));

    const net = JSON.parse(cliOk(['network', 'inspect', `${STACK}_default`]).stdout)[0];
    assert.equal(net.Driver, 'overlay');
    assert.equal(net.Scope, 'swarm');
    assert.equal(net.Labels[NS_LABEL], STACK);
    const digest = await reg.digest('nodejs', 'latest');
    assert.match(digest ?? '', /^sha256:/);
    const svc = JSON.parse(cliOk(['service', 'inspect', `${STACK}_nodejs`]).stdout)[0];
    assert.equal(svc.Spec.Labels[NS_LABEL], STACK);
    assert.equal(svc.Spec.Labels['com.docker.stack.image'], `${reg.addr}/nodejs`);
    assert.equal(svc.Spec.TaskTemplate.ContainerSpec.Image, `${reg.addr}/nodejs:latest@${digest}`);
    assert.equal(svc.Spec.TaskTemplate.Resources.Limits.NanoCPUs, 100_000_000);
    assert.equal(svc.Spec.TaskTemplate.Resources.Limits.MemoryBytes, 1024 ** 3);

    const app = await waitFor(async () => ((await running(`${STACK}_nodejs`)).length === 6 ? running(`${STACK}_nodejs`) : undefined), 90_000, '6 nodejs tasks running');
    const perHost = new Map<string, number>();
    for (const t of app) perHost.set(nodeHost.get(t.NodeID!)!.name, (perHost.get(nodeHost.get(t.NodeID!)!.name) ?? 0) + 1);
    assert.deepEqual([...perHost.entries()].sort(), [['h1', 2], ['h2', 2], ['h3', 2]]);
    for (const t of app) {
      const h = nodeHost.get(t.NodeID!)!;
      const hc = JSON.parse(engineOk(h, ['inspect', '--format', '{{json .HostConfig}}', containerOf(h, t.ID)]));
      assert.equal(hc.NanoCpus, 100_000_000, `${h.name}: cpus 0.1`);
      assert.equal(hc.Memory, 1024 ** 3, `${h.name}: memory 1G`);
    }
    // the stack's secret and config, inside a task on each host
    for (const h of hs.hosts) {
      const t = app.find((x) => nodeHost.get(x.NodeID!) === h)!;
      assert.equal(engineOk(h, ['exec', containerOf(h, t.ID), 'cat', '/run/secrets/db_password']), SECRET, `secret in ${h.name}'s task`);
      assert.equal(engineOk(h, ['exec', containerOf(h, t.ID), 'cat', '/app.conf']), 'listen=3000\n', `config in ${h.name}'s task`);
    }

    // the routing mesh: every host answers on 3000
    for (const h of hs.hosts) {
      const body = await waitFor(() => httpGet(h.ip, 3000).catch(() => undefined), 30_000, `port 3000 on ${h.name}`, 250);
      assert.match(body, /shoal test page/);
    }

    const [mongo] = await waitFor(async () => ((await running(`${STACK}_mongo`)).length === 1 ? running(`${STACK}_mongo`) : undefined), 60_000, 'mongo running');
    const home = nodeHost.get(mongo!.NodeID!)!;
    for (const h of hs.hosts) {
      const vols = engineOk(h, ['volume', 'ls', '-q', '--filter', `label=${NS_LABEL}=${STACK}`]).split('\n').filter(Boolean);
      assert.deepEqual(vols, h === home ? [`${STACK}_mongo_data`] : [], `volumes on ${h.name}`);
    }
    const mounts = JSON.parse(engineOk(home, ['inspect', '--format', '{{json .Mounts}}', containerOf(home, mongo!.ID)]));
    assert.deepEqual(mounts.map((x: { Type: string; Name: string; Destination: string }) => [x.Type, x.Name, x.Destination]), [['volume', `${STACK}_mongo_data`, '/data/db']]);
  });

  test('stack ls, services and ps show the stack as Docker does', () => {
    assert.deepEqual(parseTable(cliOk(['stack', 'ls']).stdout), [{ NAME: STACK, SERVICES: '2' }]);
    const services = parseTable(cliOk(['stack', 'services', STACK]).stdout);
    assert.deepEqual(services.map((s) => [s.NAME, s.MODE, s.REPLICAS, s.IMAGE, s.PORTS]).sort(), [
      [`${STACK}_mongo`, 'replicated', '1/1', `${reg.addr}/mongo:latest`, '*:27017->27017/tcp'],
      [`${STACK}_nodejs`, 'replicated', '6/6', `${reg.addr}/nodejs:latest`, '*:3000->3000/tcp'],
    ]);
    const ps = cliOk(['stack', 'ps', '--filter', 'desired-state=running', '--format', '{{.Name}} {{.Image}} {{.CurrentState}}', STACK]).stdout.split('\n').filter(Boolean);
    assert.equal(ps.length, 7, ps.join('\n'));
    assert.ok(ps.every((l) => / Running /.test(l)), ps.join('\n'));
    assert.equal(ps.filter((l) => l.startsWith(`${STACK}_nodejs.`)).length, 6);
  });

  test('redeploy with one service changed: only its tasks are replaced; a service left out stays unless --prune', async () => {
    const appBefore = (await running(`${STACK}_nodejs`)).map((t) => t.ID).sort();
    const [mongoBefore] = await running(`${STACK}_mongo`);
    const r = cliOk(['stack', 'deploy', '-c', writeCompose('v2.yml', composeFile(reg.addr, { mongoEnv: 'CACHE=2' })), STACK]);
    assert.match(r.stdout, new RegExp(`Updating service ${STACK}_mongo \\(id: \\w+\\)`));
    const [mongoAfter] = await waitFor(
      async () => {
        const t = await running(`${STACK}_mongo`);
        return t.length === 1 && t[0]!.ID !== mongoBefore!.ID ? t : undefined;
      },
      60_000,
      'a new mongo task',
    );
    assert.ok(mongoAfter!.Spec.ContainerSpec?.Env?.includes('CACHE=2'));
    assert.deepEqual((await running(`${STACK}_nodejs`)).map((t) => t.ID).sort(), appBefore, 'nodejs tasks untouched');

    const v3 = writeCompose('v3.yml', composeFile(reg.addr, { withMongo: false }));
    cliOk(['stack', 'deploy', '-c', v3, STACK]);
    assert.deepEqual(parseTable(cliOk(['stack', 'services', '--format', 'table {{.Name}}', STACK]).stdout).map((s) => s.NAME).sort(), [`${STACK}_mongo`, `${STACK}_nodejs`]);
    const pruned = cliOk(['stack', 'deploy', '--prune', '-c', v3, STACK]);
    assert.match(pruned.stdout, new RegExp(`Removing service ${STACK}_mongo\\n`));
    assert.deepEqual(parseTable(cliOk(['stack', 'services', '--format', 'table {{.Name}}', STACK]).stdout).map((s) => s.NAME), [`${STACK}_nodejs`]);
    assert.deepEqual((await running(`${STACK}_nodejs`)).map((t) => t.ID).sort(), appBefore, 'nodejs tasks still untouched');
  });

  test('--resolve-image never keeps the tag (no digest), changed too when the image is the same, always pins the digest', () => {
    const f = writeCompose('one.yml', ["version: '3'", 'services:', '  web:', `    image: ${reg.addr}/nodejs`, '    command: sleep 100000', ''].join('\n'));
    cliOk(['stack', 'deploy', '--resolve-image', 'never', '-c', f, 'never']);
    assert.equal(cliOk(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'never_web']).stdout.trim(), `${reg.addr}/nodejs:latest`);
    // changed: the CLI asks the registry only when the image differs from the label com.docker.stack.image
    cliOk(['stack', 'deploy', '--resolve-image', 'changed', '-c', f, 'never']);
    assert.equal(cliOk(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'never_web']).stdout.trim(), `${reg.addr}/nodejs:latest`);
    cliOk(['stack', 'deploy', '--resolve-image', 'always', '-c', f, 'never']);
    assert.match(cliOk(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', 'never_web']).stdout.trim(), new RegExp(`^${reg.addr.replace(/\./g, '\\.')}/nodejs:latest@sha256:[0-9a-f]{64}$`));
    cliOk(['stack', 'rm', 'never']);
  });

  test('stack rm: no service, network or task container left; the volume stays', async () => {
    const r = cliOk(['stack', 'rm', STACK]);
    assert.match(r.stdout, new RegExp(`Removing service ${STACK}_nodejs\\n`));
    assert.match(r.stdout, new RegExp(`Removing network ${STACK}_default\\n`));
    assert.match(r.stdout, new RegExp(`Removing secret ${STACK}_db_password\\n`));
    assert.match(r.stdout, new RegExp(`Removing config ${STACK}_app_conf\\n`));
    assert.equal(cliOk(['secret', 'ls', '-q']).stdout.trim(), '');
    assert.equal(cliOk(['config', 'ls', '-q']).stdout.trim(), '');
    assert.equal(cliOk(['service', 'ls', '-q', '--filter', `label=${NS_LABEL}=${STACK}`]).stdout.trim(), '');
    assert.equal(cliOk(['network', 'ls', '-q', '--filter', `label=${NS_LABEL}=${STACK}`]).stdout.trim(), '');
    assert.equal(cliOk(['stack', 'ls']).stdout.trim(), 'NAME      SERVICES');
    for (const h of hs.hosts) {
      await waitFor(() => engineOk(h, ['ps', '-aq', '--filter', `label=${NS_LABEL}=${STACK}`]).trim() === '', 60_000, `no stack container on ${h.name}`);
      // no service publishes a port any more and the stack's overlay is gone: no engine network of Shoal's is left
      await waitFor(() => engineOk(h, ['network', 'ls', '-q', '--filter', 'label=com.shoal.network.id']).trim() === '', 60_000, `no overlay left on ${h.name}`);
    }
    const vols = hs.hosts.flatMap((h) => engineOk(h, ['volume', 'ls', '-q', '--filter', `label=${NS_LABEL}=${STACK}`]).split('\n').filter(Boolean));
    assert.deepEqual(vols, [`${STACK}_mongo_data`]);
  });
});
