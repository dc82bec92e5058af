import assert from 'node:assert/strict';
import { test } from 'node:test';
import { immediateStore } from '../store/testing/immediate';
import type { Service, Task } from '../types';
import { taskFixture } from '../testing/fixtures';
import { parseExposition, sampleValue, type Family } from '../testing/prometheus';
import { NodeMetrics, type ManagerView, type MeshPortView, type MetricsSources } from './metrics';
import { createMetricsServer } from './server';

const engine: MetricsSources['engine'] = { version: '0.1.0', commit: 'shoal', architecture: 'x86_64', kernel: '6.1', os: 'linux', osType: 'linux', daemonId: 'abc', ncpu: 2, memTotal: 1024 };
const meshPort: MeshPortView = { protocol: 'tcp', port: 8080, listening: true, backends: 2, counters: { active: 1, total: 7, bytesIn: 100, bytesOut: 2000, failedConnects: 0, noBackend: 1 } };
const spec = { ContainerSpec: { Image: 'busybox' } };

function service(): Service {
  return { ID: 's1', Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', Spec: { Name: 'web', TaskTemplate: spec, Mode: { Replicated: { Replicas: 2 } } }, Endpoint: { Spec: {} }, internal: { specVersion: 1 } } as Service;
}
const task = (id: string, slot: number, createdAt: string, state: Task['Status']['State'] = 'running'): Task =>
  taskFixture({ ID: id, ServiceID: 's1', Slot: slot, Spec: spec, CreatedAt: createdAt, Status: { Timestamp: createdAt, State: state, Message: '' } });

async function scrape(addr: string, path = '/metrics', method = 'GET'): Promise<{ status: number; type: string | null; body: string }> {
  const r = await fetch(`http://${addr}${path}`, { method });
  return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
}

/** Scrapes until `ok` holds (bounded: 50 scrapes, 10 ms apart); the last exposition either way. */
async function scrapeUntil(addr: string, ok: (m: Map<string, Family>) => boolean): Promise<Map<string, Family>> {
  let m = parseExposition((await scrape(addr)).body);
  for (let i = 0; i < 50 && !ok(m); i++) {
    await new Promise((r) => setTimeout(r, 10));
    m = parseExposition((await scrape(addr)).body);
  }
  return m;
}

test('a worker exposes node metrics only; a manager adds the cluster gauges read from its store at scrape time', async () => {
  const store = immediateStore();
  let manager: ManagerView | undefined;
  const metrics = new NodeMetrics({ engine, manager: () => manager, mesh: () => [meshPort] });
  const server = createMetricsServer('127.0.0.1:0', metrics, { warn: () => undefined });
  await server.listen();
  try {
    const r = await scrape(server.address());
    assert.equal(r.status, 200);
    assert.match(r.type ?? '', /^text\/plain; version=0\.0\.4/);
    let m = parseExposition(r.body);
    assert.equal(sampleValue(m, 'swarm_node_manager'), 0);
    assert.equal(sampleValue(m, 'swarm_manager_leader'), 0);
    assert.equal(m.has('swarm_manager_tasks_total'), false, 'no manager-only metric on a worker');
    assert.equal(sampleValue(m, 'engine_daemon_engine_info', { version: '0.1.0', daemon_id: 'abc' }), 1);
    assert.equal(sampleValue(m, 'shoal_mesh_connections_total', { protocol: 'tcp', port: '8080' }), 7);
    assert.equal(sampleValue(m, 'shoal_mesh_sent_bytes_total', { port: '8080' }), 2000);
    assert.equal(m.get('shoal_mesh_connections_total')?.type, 'counter');
    assert.ok(m.has('process_cpu_user_seconds_total'), 'the process metrics of prom-client');

    manager = {
      isLeader: () => true,
      read: (fn) => store.read((tx) => fn(tx as never)),
      taskStates: () => store.taskCountsByState(),
      services: () => store.read((tx) => tx.find('service').map((s) => ({ ...s, ServiceStatus: { RunningTasks: tx.tasksByService(s.ID).filter((t) => t.Status.State === 'running').length, DesiredTasks: 2 } }))),
      raft: () => ({ term: 3, leader: 1, commit: 10, applied: 10 }),
      dispatcherSessions: () => 1,
    };
    metrics.followEvents(store.watch({ kinds: ['task', 'node', 'service'] }), (t) => store.read((tx) => tx.tasksByService(t.ServiceID).filter((p) => p.Slot === t.Slot)));
    await store.update((tx) => {
      tx.create('service', service());
      tx.create('task', task('t1', 1, '2026-01-01T00:00:01.000Z'));
    });
    await store.update((tx) => tx.create('task', task('t2', 1, '2026-01-01T00:00:02.000Z')));
    const t1 = store.read((tx) => tx.get('task', 't1'))!;
    await store.update((tx) => tx.update('task', { ...t1, Status: { ...t1.Status, State: 'failed' } }));
    metrics.leaderSeen(1);
    metrics.observeRequest({ method: 'GET', route: '/services', status: 200, seconds: 0.002 });

    // the store watch is read on its own: the counters show once it caught up
    m = await scrapeUntil(server.address(), (x) => sampleValue(x, 'shoal_service_tasks_failed_total', { service: 'web' }) === 1);
    assert.equal(sampleValue(m, 'swarm_node_manager'), 1);
    assert.equal(sampleValue(m, 'swarm_manager_leader'), 1);
    assert.equal(sampleValue(m, 'swarm_manager_services_total'), 1);
    assert.equal(sampleValue(m, 'swarm_manager_tasks_total', { state: 'running' }), 1);
    assert.equal(sampleValue(m, 'swarm_manager_tasks_total', { state: 'failed' }), 1);
    assert.equal(sampleValue(m, 'swarm_manager_tasks_total', { state: 'pending' }), 0);
    assert.equal(sampleValue(m, 'shoal_service_desired_tasks', { service: 'web' }), 2);
    assert.equal(sampleValue(m, 'shoal_service_running_tasks', { service: 'web' }), 1);
    assert.equal(sampleValue(m, 'shoal_service_task_restarts_total', { service: 'web', reason: 'restart' }), 1);
    assert.equal(sampleValue(m, 'shoal_service_tasks_failed_total', { service: 'web' }), 1);
    assert.equal(sampleValue(m, 'shoal_raft_term'), 3);
    assert.equal(sampleValue(m, 'shoal_raft_leader_changes_total'), 1);
    assert.equal(sampleValue(m, 'shoal_dispatcher_sessions'), 1);
    assert.equal(sampleValue(m, 'shoal_api_request_duration_seconds_count', { route: '/services', method: 'GET', code: '200' }), 1);
    assert.equal(m.get('swarm_raft_transaction_latency_seconds')?.type, 'histogram');

    // a removed service takes its labelled series with it
    await store.update((tx) => tx.delete('service', 's1'));
    m = await scrapeUntil(server.address(), (x) => sampleValue(x, 'shoal_service_tasks_failed_total', { service: 'web' }) === undefined);
    assert.equal(sampleValue(m, 'shoal_service_desired_tasks', { service: 'web' }), undefined);

    assert.equal((await scrape(server.address(), '/other')).status, 404);
    const head = await scrape(server.address(), '/metrics', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal((await scrape(server.address(), '/metrics', 'POST')).status, 405);
  } finally {
    metrics.close();
    await server.close();
  }
});

test('the exposition reader refuses what Prometheus would refuse', () => {
  assert.throws(() => parseExposition('x 1\n'), /line 1: sample x without HELP and TYPE/);
  assert.throws(() => parseExposition('# HELP x h\n# TYPE x gauge\nx{a="1} 1\n'), /unterminated label value/);
  assert.throws(() => parseExposition('# HELP x h\n# TYPE x gauge\nx one\n'), /bad value/);
  assert.throws(() => parseExposition('# HELP x h\n# TYPE x bogus\n'), /bad type bogus/);
  assert.throws(() => parseExposition('# HELP x h\n# TYPE x gauge\nx 1'), /does not end with a newline/);
  const m = parseExposition('# HELP h_s lat\n# TYPE h_s histogram\nh_s_bucket{le="+Inf",r="a\\"b"} 2\nh_s_sum 0.5\nh_s_count 2\n');
  assert.equal(sampleValue(m, 'h_s_bucket', { r: 'a"b' }), 2);
  assert.equal(sampleValue(m, 'h_s_count'), 2);
});

test('a scrape reads no task: tasks by state are the store\'s counts, and a service never updated has no progress to count', async () => {
  const store = immediateStore();
  await store.update((tx) => {
    tx.create('service', service());
    tx.create('task', task('t1', 1, '2026-01-01T00:00:01.000Z'));
    tx.create('task', task('t2', 2, '2026-01-01T00:00:02.000Z', 'pending'));
  });
  const taskReads: string[] = [];
  const metrics = new NodeMetrics({
    engine,
    manager: () => ({
      isLeader: () => true,
      read: (fn) =>
        store.read((tx) =>
          fn({
            find: (kind) => {
              if (kind === 'task') taskReads.push('find');
              return tx.find(kind);
            },
            tasksByService: (id) => {
              taskReads.push(`tasksByService ${id}`);
              return tx.tasksByService(id);
            },
          }),
        ),
      taskStates: () => store.taskCountsByState(),
      services: () => store.read((tx) => tx.find('service').map((s) => ({ ...s, ServiceStatus: { RunningTasks: 1, DesiredTasks: 2 } }))),
      raft: () => ({ term: 1, leader: 1, commit: 1, applied: 1 }),
      dispatcherSessions: () => 1,
    }),
    mesh: () => [],
  });
  const m = parseExposition((await metrics.render()).body);
  assert.equal(sampleValue(m, 'swarm_manager_tasks_total', { state: 'running' }), 1);
  assert.equal(sampleValue(m, 'swarm_manager_tasks_total', { state: 'pending' }), 1);
  assert.equal(sampleValue(m, 'swarm_manager_tasks_total', { state: 'failed' }), 0);
  assert.equal(sampleValue(m, 'shoal_service_update_tasks_total', { service: 'web' }), undefined, 'no progress for a service never updated');
  assert.deepEqual(taskReads, [], 'no task read by a scrape');
});
