import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeFiles } from './merge';

test('later files win; services merge by name, mappings key by key', () => {
  const base = {
    version: '3',
    services: {
      web: { image: 'web:1', command: ['a', 'b'], environment: ['A=1', 'B=2'], labels: { x: '1' }, deploy: { replicas: 2, update_config: { parallelism: 2, delay: '10s' } } },
      db: { image: 'db' },
    },
    volumes: { data: {} },
  };
  const over = {
    services: {
      web: { image: 'web:2', command: ['c'], environment: { B: '3', C: '4' }, labels: ['y=2'], deploy: { update_config: { delay: '5s' } } },
      cache: { image: 'redis' },
    },
    volumes: { data: { driver: 'local' } },
  };
  const m = mergeFiles([base, over]);
  assert.deepEqual(m, {
    version: '3',
    services: {
      web: { image: 'web:2', command: ['c'], environment: { A: '1', B: '3', C: '4' }, labels: { x: '1', y: '2' }, deploy: { replicas: 2, update_config: { parallelism: 2, delay: '5s' } } },
      db: { image: 'db' },
      cache: { image: 'redis' },
    },
    volumes: { data: { driver: 'local' } },
  });
});

test('ports by target/protocol, volumes by target, secrets by source, depends_on and networks by name', () => {
  const a = {
    services: {
      web: {
        ports: ['8080:80', '53:53/udp'],
        volumes: ['data:/data', '/host:/etc/conf:ro'],
        secrets: ['s1', { source: 's2', target: 'x' }],
        depends_on: ['db'],
        networks: ['front'],
      },
    },
  };
  const b = {
    services: {
      web: {
        ports: [{ target: 80, published: 9090 }],
        volumes: [{ type: 'volume', source: 'other', target: '/data' }],
        secrets: [{ source: 's2', target: 'y' }],
        depends_on: { cache: { condition: 'service_healthy' } },
        networks: { back: { aliases: ['b'] } },
      },
    },
  };
  const web = (mergeFiles([a, b]).services as Record<string, Record<string, unknown>>).web!;
  assert.deepEqual(web.ports, [
    { target: 80, published: 9090, protocol: 'tcp', mode: 'ingress' },
    { target: 53, published: 53, protocol: 'udp', mode: 'ingress' },
  ]);
  assert.deepEqual(web.volumes, [
    { type: 'volume', source: 'other', target: '/data' },
    { type: 'bind', source: '/host', target: '/etc/conf', read_only: true },
  ]);
  assert.deepEqual(web.secrets, ['s1', { source: 's2', target: 'y' }]);
  assert.deepEqual(web.depends_on, { db: { condition: 'service_started' }, cache: { condition: 'service_healthy' } });
  assert.deepEqual(web.networks, { front: null, back: { aliases: ['b'] } });
});

test('a key only one file has is kept as written', () => {
  const m = mergeFiles([{ services: { web: { ports: ['80'] } } }, { services: { web: { image: 'x' } } }]);
  assert.deepEqual(m, { services: { web: { ports: ['80'], image: 'x' } } });
});
