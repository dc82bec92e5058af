import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { composeValidator } from '../commands/stack';
import { loadStack, type LoadInput } from './load';
import { assertGolden, sourceDirOf } from '../../testing/golden';

// The seed 004 stack file converted as `docker stack deploy -c docker-compose.yml stackdemo` would
// send it. Golden: regenerate with UPDATE_GOLDEN=1 after checking the diff.
const DIR = path.join(sourceDirOf(__dirname), 'testdata');

function golden(name: string, value: unknown): void {
  assertGolden(path.join(DIR, `${name}.golden.json`), JSON.stringify(value, null, 2) + '\n');
}

const files: Record<string, string> = {};
const input = (texts: string[], extra: Partial<LoadInput> = {}): LoadInput => ({
  namespace: 'stackdemo',
  files: texts.map((text, i) => ({ file: `f${i}.yml`, text })),
  env: {},
  validate: composeValidator(),
  convert: {
    resolvePath: (p) => path.posix.resolve('/work/app', p),
    readText: (p) => {
      if (!(p in files)) throw new Error(`open ${p}: no such file or directory`);
      return files[p]!;
    },
  },
  ...extra,
});

test('golden: seed 004 stack file', () => {
  const plan = loadStack(input([fs.readFileSync(path.join(DIR, 'seed004.yml'), 'utf8')]));
  golden('seed004', plan);
  // the facts the golden holds, spelled out
  const nodejs = plan.services.find((s) => s.key === 'nodejs')!.spec;
  assert.equal(nodejs.Name, 'stackdemo_nodejs');
  assert.deepEqual(nodejs.Labels, { 'com.docker.stack.namespace': 'stackdemo', 'com.docker.stack.image': '127.0.0.1:5000/nodejs' });
  assert.deepEqual(nodejs.Mode, { Replicated: { Replicas: 6 } });
  assert.deepEqual(nodejs.UpdateConfig, { Parallelism: 2, Delay: 10e9 });
  assert.deepEqual(nodejs.TaskTemplate.RestartPolicy, { Condition: 'on-failure' });
  assert.deepEqual(nodejs.TaskTemplate.Resources, { Limits: { NanoCPUs: 1e8, MemoryBytes: 1024 ** 3 } });
  assert.deepEqual(nodejs.TaskTemplate.Networks, [{ Target: 'stackdemo_default', Aliases: ['nodejs'] }]);
  assert.deepEqual(nodejs.EndpointSpec, { Ports: [{ Protocol: 'tcp', TargetPort: 3000, PublishedPort: 3000, PublishMode: 'ingress' }] });
  const mongo = plan.services.find((s) => s.key === 'mongo')!.spec;
  assert.deepEqual(mongo.TaskTemplate.ContainerSpec!.Mounts, [{ Type: 'volume', Source: 'stackdemo_mongo_data', Target: '/data/db', VolumeOptions: { Labels: { 'com.docker.stack.namespace': 'stackdemo' } } }]);
  assert.deepEqual(plan.networks, [{ Name: 'stackdemo_default', Driver: 'overlay', Labels: { 'com.docker.stack.namespace': 'stackdemo' } }]);
  assert.deepEqual(plan.services.find((s) => s.key === 'nodejs')!.dependsOn, { mongo: 'service_started' });
  assert.deepEqual(plan.warnings, [
    'Ignoring unsupported options: restart\n\n',
    'build is not supported in a stack: service nodejs is deployed from image 127.0.0.1:5000/nodejs; its build section is not used\n',
  ]);
});

test('golden: the rest of the service keys, .env and environment, two files', () => {
  files['/work/app/web.env'] = 'FROM_FILE=1\nOVERRIDDEN=file\n';
  const base = `
services:
  web:
    image: \${IMAGE:-busybox}:\${TAG}
    entrypoint: /bin/sh -c
    command: ["echo", "hi"]
    env_file: web.env
    environment:
      OVERRIDDEN: yaml
      FROM_SHELL:
      NUMBER: 3
    labels: [role=front]
    hostname: web-host
    working_dir: /srv
    user: "1000:1000"
    stop_grace_period: 1m30s
    stop_signal: SIGINT
    read_only: true
    tty: true
    extra_hosts: ["db.local:10.0.0.5"]
    healthcheck:
      test: curl -f http://localhost/
      interval: 5s
      timeout: 2s
      retries: 4
      start_period: 10s
    ports:
      - "8080-8081:80-81/udp"
      - target: 443
        published: 8443
        mode: host
    volumes:
      - ./conf:/etc/conf:ro
      - cache:/cache:nocopy
      - /anon
      - type: tmpfs
        target: /tmp
        tmpfs: {size: 1m}
    networks:
      front:
        aliases: [www]
      back: {}
    secrets: [token]
    configs:
      - source: site
        target: /etc/site.conf
        mode: 0440
    deploy:
      mode: replicated
      replicas: \${REPLICAS}
      endpoint_mode: vip
      labels: {tier: web}
      placement:
        constraints: [node.role == worker]
        preferences: [{spread: node.labels.zone}]
        max_replicas_per_node: 2
      resources:
        reservations: {cpus: "0.25", memory: 64M}
      rollback_config: {parallelism: 0, failure_action: continue, order: start-first, monitor: 3s, max_failure_ratio: 0.5}
    depends_on:
      db: {condition: service_healthy}
      job: {condition: service_completed_successfully}
  db:
    image: db
    deploy: {mode: global}
    networks: [back]
  job:
    image: job
    restart: on-failure:3
    deploy: {mode: replicated-job, replicas: 2}
networks:
  front: {driver_opts: {encrypted: ""}, attachable: true}
  back: {name: shared-back, external: true}
volumes:
  cache: {driver: local, labels: {keep: "yes"}}
secrets:
  token: {file: ./token.txt}
configs:
  site: {external: true, name: site-v1}
`;
  const override = `
services:
  web:
    environment: [EXTRA=1]
    deploy: {replicas: 5}
`;
  const plan = loadStack(input([base, override], { env: { TAG: '1.2', FROM_SHELL: 'shell' }, dotenv: { file: '/work/app/.env', text: 'TAG=from-dotenv\nREPLICAS=3\n' } }));
  golden('full', plan);
  const web = plan.services.find((s) => s.key === 'web')!;
  assert.equal(web.spec.TaskTemplate.ContainerSpec!.Image, 'busybox:1.2', 'the environment wins over .env');
  assert.deepEqual(web.spec.Mode, { Replicated: { Replicas: 5 } }, 'the second file wins');
  assert.deepEqual(web.spec.TaskTemplate.ContainerSpec!.Env, ['EXTRA=1', 'FROM_FILE=1', 'FROM_SHELL=shell', 'NUMBER=3', 'OVERRIDDEN=yaml']);
  assert.deepEqual(plan.externalNetworks, ['shared-back']);
  assert.deepEqual(web.dependsOn, { db: 'service_healthy', job: 'service_completed_successfully' });
});

test('conversion errors', () => {
  const bad = (text: string, re: RegExp) => assert.throws(() => loadStack(input([text])), re);
  bad('services:\n  web:\n    build: .\n', /^Error: build is not supported in a stack: service web has a build section but no image; build and push the image, then name it in image:$/);
  bad('services:\n  web: {image: x, networks: [nope]}\n', /^Error: service web: undefined network "nope"$/);
  bad('services:\n  web: {image: x, volumes: ["nope:/x"]}\n', /^Error: service web: undefined volume "nope"$/);
  bad('services:\n  web: {image: x, secrets: [nope]}\n', /^Error: service web: undefined secret "nope"$/);
  bad('services:\n  web: {image: x, depends_on: [nope]}\n', /^Error: service web depends on undefined service nope$/);
  bad('services:\n  web: {image: x, deploy: {mode: global, replicas: 2}}\n', /replicas can only be used with replicated or replicated-job mode/);
  bad('services:\n  web: {image: "${NOPE:?set NOPE}"}\n', /^Error: required variable NOPE is missing a value: set NOPE$/);
  assert.throws(() => loadStack(input(['services:\n  web: {image: x}\n'], { namespace: 'bad name' })), /^Error: invalid stack name: "bad name"$/);
  bad('services:\n  web: {image: x, extends: {service: base}}\n', /^Error: Compose file contains unsupported options:\n\nextends: Support for `extends` is not implemented yet\.\n$/);
});

test('YAML anchors, merge keys and x- extensions', () => {
  const text = ['x-common: &common', '  image: busybox', '  environment: [A=1]', 'services:', '  a:', '    <<: *common', '  b:', '    <<: *common', '    image: other', ''].join('\n');
  const plan = loadStack(input([text]));
  assert.deepEqual(
    plan.services.map((s) => [s.key, s.spec.TaskTemplate.ContainerSpec!.Image, s.spec.TaskTemplate.ContainerSpec!.Env]),
    [
      ['a', 'busybox', ['A=1']],
      ['b', 'other', ['A=1']],
    ],
  );
});
