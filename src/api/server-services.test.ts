// The API server: services, tasks, their logs, and events, against the FakeBackend.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineEvent } from './backend';
import { deframe } from './convert';
import type { FakeBackend } from './testing/fake-backend';
import { call, json, streamUntil, startApiFixture, type ApiFixture } from './testing/http';
import { waitFor } from '../testing/wait';

let f: ApiFixture;
let sock: string;
let backend: FakeBackend;

before(async () => {
  f = await startApiFixture();
  ({ sock, backend } = f);
});

after(() => f.close());

describe('services and tasks', () => {
  test('create answers 201 {ID, Warnings:null}; update answers Warnings', async () => {
    const spec = { Name: 'api', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: 2 } } };
    const r = await call(sock, 'POST', '/v1.47/services/create', spec, { 'X-Registry-Auth': 'e30=' });
    assert.equal(r.status, 201);
    assert.deepEqual(json(r), { ID: 'svc123', Warnings: null });
    // X-Registry-Auth (--with-registry-auth) is kept with the spec for the nodes' pulls (images.md)
    assert.deepEqual(backend.last('createService'), [{ ...spec, TaskTemplate: { ContainerSpec: { Image: 'busybox', PullOptions: { RegistryAuth: 'e30=' } } } }]);
    const u = await call(sock, 'POST', '/services/web/update?version=5&rollback=previous&registryAuthFrom=previous-spec', spec);
    assert.equal(u.status, 200);
    assert.deepEqual(json(u), { Warnings: ['w1'] });
    assert.deepEqual(backend.last('updateService'), ['web', 5, spec, { rollback: true }]);
    assert.equal((await call(sock, 'POST', '/services/web/update?version=5', spec)).status, 200);
    assert.deepEqual((backend.last('updateService') as unknown[])[3], { rollback: false });
  });

  test('request bodies are read as Go reads them: keys case-insensitive, label keys kept', async () => {
    // docker-py sends Mode as {"replicated": {...}}; dockerd's decoder matches it to Replicated.
    const spec = { name: 'py', Labels: { 'Mixed.Case': 'v' }, TaskTemplate: { ContainerSpec: { Image: 'busybox', Healthcheck: { Test: ['CMD', 'true'] } } }, Mode: { replicated: { Replicas: 3 } } };
    assert.equal((await call(sock, 'POST', '/v1.47/services/create', spec)).status, 201);
    assert.deepEqual(backend.last('createService'), [
      { Name: 'py', Labels: { 'Mixed.Case': 'v' }, TaskTemplate: { ContainerSpec: { Image: 'busybox', HealthCheck: { Test: ['CMD', 'true'] } } }, Mode: { Replicated: { Replicas: 3 } } },
    ]);
    assert.equal((await call(sock, 'POST', '/services/web/update?version=5', { Mode: { global: {} } })).status, 200);
    assert.deepEqual((backend.last('updateService') as unknown[])[2], { Mode: { Global: {} } });
    assert.equal((await call(sock, 'POST', '/nodes/node1/update?version=3', { availability: 'drain', role: 'manager', labels: { a: 'b' } })).status, 200);
    assert.deepEqual(backend.last('updateNode'), ['node1', 3, { Availability: 'drain', Role: 'manager', Labels: { a: 'b' } }]);
  });

  test('list/inspect/remove services and tasks', async () => {
    const l = await call(sock, 'GET', '/services?status=true&filters=' + encodeURIComponent('{"name":{"web":true}}'));
    assert.deepEqual(backend.last('listServices'), [{ name: ['web'] }, true]);
    assert.equal(json(l)[0].internal, undefined);
    assert.equal(json(l)[0].ServiceStatus.RunningTasks, 1);
    const g = await call(sock, 'GET', '/services/web?insertDefaults=true');
    assert.equal(json(g).Spec.Name, 'web');
    assert.deepEqual(backend.last('getService'), ['web', true]);
    assert.equal((await call(sock, 'DELETE', '/services/web')).status, 200);
    assert.deepEqual(backend.last('removeService'), ['web']);
    const t = await call(sock, 'GET', '/tasks?filters=' + encodeURIComponent('{"service":{"web":true},"desired-state":{"running":true}}'));
    assert.deepEqual(backend.last('listTasks'), [{ service: ['web'], 'desired-state': ['running'] }]);
    assert.equal(json(t)[0].internal, undefined);
    assert.equal(json(await call(sock, 'GET', '/tasks/task1')).ID, 'task1');
    assert.equal((await call(sock, 'GET', '/tasks/nope')).status, 404);
    const sl = await call(sock, 'GET', '/secrets?filters=' + encodeURIComponent('{"names":{"db":true}}'));
    assert.equal(sl.status, 200);
    assert.deepEqual(json(sl), []);
    assert.deepEqual(backend.last('listSecrets'), [{ names: ['db'] }]);
    assert.equal((await call(sock, 'GET', '/configs?filters=' + encodeURIComponent('{"driver":{"x":true}}'))).status, 400, "moby's secret/config filters only");
    assert.equal((await call(sock, 'GET', '/secrets/nope')).status, 404);
    // docker stack rm / deploy --prune list them by the stack's label
    assert.deepEqual(json(await call(sock, 'GET', '/configs?filters=' + encodeURIComponent('{"label":["com.docker.stack.namespace=s"]}'))), []);
  });

  test('service logs: multiplexed frames with details and timestamps', async () => {
    const t0 = Date.UTC(2024, 4, 1, 12, 0, 0, 123);
    backend.logLines = [
      { stream: 'stdout', time: t0, data: Buffer.from('hello\n'), taskId: 'task1', nodeId: 'node1', serviceId: 'svc1' },
      { stream: 'stderr', time: t0, data: Buffer.from('oops'), taskId: 'task1', nodeId: 'node1', serviceId: 'svc1' },
    ];
    backend.holdLogs = false;
    const r = await call(sock, 'GET', '/v1.47/services/web/logs?stdout=1&stderr=1&details=1&timestamps=1&tail=10&since=1700000000.5');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/vnd.docker.multiplexed-stream');
    const { frames, rest } = deframe(r.body);
    assert.equal(rest.length, 0);
    assert.deepEqual(
      frames.map((f) => [f.stream, f.data.toString()]),
      [
        [1, '2024-05-01T12:00:00.123000000Z com.docker.swarm.node.id=node1,com.docker.swarm.service.id=svc1,com.docker.swarm.task.id=task1 hello\n'],
        [2, '2024-05-01T12:00:00.123000000Z com.docker.swarm.node.id=node1,com.docker.swarm.service.id=svc1,com.docker.swarm.task.id=task1 oops\n'],
      ],
    );
    assert.deepEqual(backend.last('serviceLogs'), ['web', { follow: false, tail: 10, timestamps: true, stdout: true, stderr: true, details: true, since: 1700000000.5 }]);
    const noStream = await call(sock, 'GET', '/services/web/logs');
    assert.equal(noStream.status, 400);
    assert.equal(json(noStream).message, 'Bad parameters: you must choose at least one stream');
    assert.equal((await call(sock, 'GET', '/services/ghost/logs?stdout=1')).status, 404);
  });

  test('TTY service logs are raw; task logs; follow aborts on client close', async () => {
    backend.logLines = [{ stream: 'stdout', time: 0, data: Buffer.from('tty line\n'), taskId: 't', nodeId: 'n', serviceId: 's' }];
    const r = await call(sock, 'GET', '/services/ttysvc/logs?stdout=1');
    assert.equal(r.headers['content-type'], 'application/vnd.docker.raw-stream');
    assert.equal(r.body.toString(), 'tty line\n');
    const t = await call(sock, 'GET', '/tasks/task1/logs?stdout=1&stderr=1');
    assert.equal(deframe(t.body).frames[0].data.toString(), 'tty line\n');
    assert.deepEqual((backend.last('taskLogs') as unknown[])[0], 'task1');
    backend.holdLogs = true;
    backend.logsAborted = false;
    const f = await streamUntil(sock, '/services/web/logs?stdout=1&follow=1', (b) => b.length >= 8 + 9);
    assert.equal(deframe(f.body).frames[0].data.toString(), 'tty line\n');
    await waitFor('the log stream aborted', () => backend.logsAborted, 3000, 20);
    backend.holdLogs = false;
  });

  test('events stream swarm events as JSON lines; until ends the stream', async () => {
    const ev: EngineEvent = { Type: 'service', Action: 'create', Actor: { ID: 'svc1', Attributes: { name: 'web' } }, scope: 'swarm', time: 1700000000, timeNano: 1700000000000000000 };
    backend.eventsToSend = [ev];
    const r = await streamUntil(sock, '/events?filters=' + encodeURIComponent('{"type":{"service":true}}'), (b) => b.includes(0x0a));
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body.toString().split('\n')[0]), ev);
    assert.deepEqual(backend.last('events'), [{ since: undefined, until: undefined, filters: { type: ['service'] } }]);
    const past = Math.floor(Date.now() / 1000) - 1;
    const bounded = await call(sock, 'GET', `/events?since=1&until=${past}`);
    assert.equal(bounded.status, 200);
    assert.equal(bounded.body.toString().trim().split('\n').length, 1);
  });
});
