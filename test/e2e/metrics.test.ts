// Issue 14, metrics: `shoal daemon --metrics-addr` serves Prometheus text at /metrics. A single
// process-runtime manager driven by the real docker CLI; the exposition is scraped over a real socket
// and read by a strict text-format reader (every line must parse, every family must have HELP and
// TYPE) while a service is created, scaled up and rolled.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { TestDaemon, freePort, waitFor } from '../harness/daemon';
import { parseExposition, sampleValue, type Family } from '../../src/testing/prometheus';

/** A task that listens on its target port (the process runtime gives it as PORT) and greets each connection. */
const LISTENER = `require('net').createServer((c) => c.end('hi\\n')).listen(process.env.PORT)`;

type Exposition = Map<string, Family>;
const LONG = 60_000;

async function scrapeAt(addr: string): Promise<Exposition> {
  const r = await fetch(`http://${addr}/metrics`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4; charset=utf-8$/);
  return parseExposition(await r.text());
}

/** Scrapes `addr` until `ok` holds (bounded); returns that exposition. */
function scrapeUntilAt(addr: string, what: string, ok: (m: Exposition) => boolean, timeoutMs = LONG): Promise<Exposition> {
  return waitFor(async () => {
    const m = await scrapeAt(addr);
    return ok(m) ? m : undefined;
  }, timeoutMs, what, 100);
}
const v = (m: Exposition, name: string, labels: Record<string, string> = {}) => sampleValue(m, name, labels);

describe('Prometheus metrics through a scale-up and a rolling update (process runtime, docker CLI)', { concurrency: false }, () => {
  let d: TestDaemon;
  let metricsAddr: string;

  const scrape = () => scrapeAt(metricsAddr);
  const scrapeUntil = (what: string, ok: (m: Exposition) => boolean, timeoutMs = LONG) => scrapeUntilAt(metricsAddr, what, ok, timeoutMs);
  const web = { service: 'web' };

  before(async () => {
    metricsAddr = `127.0.0.1:${await freePort()}`;
    d = new TestDaemon({ hostname: 'metrics-e2e', extraArgs: ['--metrics-addr', metricsAddr] });
    await d.start();
    // before the swarm: a standalone node, no manager-only metric
    const m = await scrape();
    assert.equal(v(m, 'swarm_node_manager'), 0);
    assert.equal(v(m, 'swarm_manager_leader'), 0);
    assert.equal(m.has('swarm_manager_nodes'), false);
    d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`]);
  });
  after(async () => {
    if (d) await d.teardown();
  });

  test('a manager that leads: swarmkit’s node, manager and Raft metrics, dockerd’s engine info', async () => {
    const m = await scrapeUntil('the manager gauges', (x) => v(x, 'swarm_manager_leader') === 1);
    assert.equal(v(m, 'swarm_node_manager'), 1);
    assert.equal(v(m, 'swarm_manager_nodes', { state: 'ready' }), 1);
    assert.equal(v(m, 'swarm_manager_nodes', { state: 'down' }), 0);
    assert.equal(v(m, 'swarm_manager_services_total'), 0);
    assert.equal(v(m, 'swarm_manager_secrets_total'), 0);
    assert.ok((v(m, 'shoal_raft_term') ?? 0) >= 1, 'a Raft term');
    assert.ok((v(m, 'shoal_raft_leader_changes_total') ?? 0) >= 1, 'the leader this manager saw elected');
    // swarm init wrote the cluster through Raft: proposals were timed
    assert.ok((v(m, 'swarm_raft_transaction_latency_seconds_count') ?? 0) >= 1);
    assert.equal(m.get('swarm_raft_snapshot_latency_seconds')?.type, 'histogram');
    assert.ok((v(m, 'swarm_store_write_tx_latency_seconds_count') ?? 0) >= 1, 'store writes timed');
    assert.ok((v(m, 'swarm_store_read_tx_latency_seconds_count') ?? 0) >= 1, 'store reads timed');
    assert.equal(v(m, 'engine_daemon_engine_info', { os: 'linux' }), 1);
    assert.ok((v(m, 'engine_daemon_engine_cpus_cpus') ?? 0) >= 1);
    assert.equal(v(m, 'shoal_api_request_duration_seconds_count', { method: 'POST', route: '/swarm/init', code: '200' }), 1);
    // HELP and TYPE for every family (the reader refuses a sample without them); types are the ones declared
    assert.equal(m.get('swarm_manager_tasks_total')?.type, 'gauge');
    assert.equal(m.get('shoal_api_request_duration_seconds')?.type, 'histogram');
  });

  test('create 1 replica, scale to 4: desired and running gauges follow, tasks_total{running} moves, scheduling delays are observed', async () => {
    d.dockerOk(['service', 'create', '--detach', '--name', 'web', '--replicas', '1', '--update-delay', '300ms', '--update-monitor', '300ms', '--stop-grace-period', '1s', 'busybox:latest', 'sleep', '1000']);
    let m = await scrapeUntil('web at 1/1', (x) => v(x, 'shoal_service_running_tasks', web) === 1);
    assert.equal(v(m, 'shoal_service_desired_tasks', web), 1);
    assert.equal(v(m, 'swarm_manager_services_total'), 1);
    assert.equal(v(m, 'swarm_manager_tasks_total', { state: 'running' }), 1);
    const updatesBefore = v(m, 'shoal_api_request_duration_seconds_count', { method: 'POST', route: '/services/{id}/update', code: '200' }) ?? 0;

    d.dockerOk(['service', 'scale', '--detach', 'web=4']);
    m = await scrapeUntil('web at 4/4', (x) => v(x, 'shoal_service_running_tasks', web) === 4);
    assert.equal(v(m, 'shoal_service_desired_tasks', web), 4);
    assert.equal(v(m, 'swarm_manager_tasks_total', { state: 'running' }), 4);
    assert.ok((v(m, 'swarm_dispatcher_scheduling_delay_seconds_count') ?? 0) >= 4, 'NEW→RUNNING observed for each task');
    // scaling is a service update through the API: its route's latency histogram counted it, by pattern
    assert.equal(v(m, 'shoal_api_request_duration_seconds_count', { method: 'POST', route: '/services/{id}/update', code: '200' }), updatesBefore + 1);
    const raw = [...m.values()].flatMap((f) => f.samples).filter((s) => s.labels.route?.includes('web'));
    assert.deepEqual(raw, [], 'no raw path (service name) in a route label');
    // scaling up replaces nothing
    assert.equal(v(m, 'shoal_service_task_restarts_total', { ...web, reason: 'update' }), undefined);
  });

  test('rolling update (--env-add): update state and progress move, each replacement is counted, the service converges', async () => {
    d.dockerOk(['service', 'update', '--detach', '--env-add', 'METRICS_E2E=1', 'web']);
    // while it rolls: state updating and fewer than 4 tasks on the new spec
    const during = await scrapeUntil('an update in progress', (x) => v(x, 'shoal_service_update_state', { ...web, state: 'updating' }) === 1, 20_000);
    assert.equal(v(during, 'shoal_service_update_tasks_total', web), 4);
    assert.ok((v(during, 'shoal_service_update_tasks_updated', web) ?? 4) < 4, 'progress below total while updating');

    const m = await scrapeUntil('the update completed', (x) => v(x, 'shoal_service_update_state', { ...web, state: 'completed' }) === 1);
    assert.equal(v(m, 'shoal_service_update_state', { ...web, state: 'updating' }), 0);
    assert.equal(v(m, 'shoal_service_update_tasks_updated', web), 4);
    assert.equal(v(m, 'shoal_service_update_tasks_total', web), 4);
    assert.equal(v(m, 'shoal_service_task_restarts_total', { ...web, reason: 'update' }), 4);
    assert.equal(v(m, 'shoal_service_task_restarts_total', { ...web, reason: 'restart' }), undefined);
    assert.equal(v(m, 'shoal_service_running_tasks', web), 4);
    assert.equal(v(m, 'swarm_manager_tasks_total', { state: 'running' }), 4);
    assert.equal(v(m, 'swarm_manager_tasks_total', { state: 'shutdown' }), 4, 'the replaced tasks stay as history');
    assert.equal(v(m, 'shoal_service_tasks_failed_total', web), undefined, 'nothing failed');
  });

  test('a Raft snapshot is timed: with --snapshot-interval 5, a few writes later swarm_raft_snapshot_latency_seconds counts one', async () => {
    const before = v(await scrape(), 'swarm_raft_snapshot_latency_seconds_count') ?? 0;
    d.dockerOk(['swarm', 'update', '--snapshot-interval', '5']);
    for (const n of [3, 2, 4]) d.dockerOk(['service', 'scale', '--detach', `web=${n}`]);
    const m = await scrapeUntil('a snapshot timed', (x) => (v(x, 'swarm_raft_snapshot_latency_seconds_count') ?? 0) > before, 30_000);
    assert.ok((v(m, 'swarm_raft_snapshot_latency_seconds_sum') ?? -1) >= 0);
  });
});

describe('Prometheus metrics on a worker: node metrics and its routing mesh, no manager metrics; the manager counts its heartbeat miss', { concurrency: false }, () => {
  let c: TestCluster;
  let port: number;
  const at = (n: ClusterNode) => `${n.ip}:${port}`;

  before(async () => {
    port = await freePort();
    c = new TestCluster({ workers: 1, heartbeat: '1s', hostPrefix: 'metrics', nodeArgs: (ip) => ['--metrics-addr', `${ip}:${port}`] });
    await c.start();
  });
  after(async () => {
    if (c) await c.cleanup();
  });

  test('the worker shows swarm_node_manager 0, leader 0, no manager family, and counts a connection to a published port', async () => {
    const w = c.workers[0]!;
    // A backend that answers: with none (a task that does not listen) the mesh resets each client it accepted, and
    // on a loaded machine the reset can reach the client before its connect completes (ECONNRESET in connect).
    c.manager.dockerOk(['service', 'create', '--detach', '--name', 'pub', '--publish', '80', '--stop-grace-period', '1s', 'busybox:latest', process.execPath, '-e', LISTENER]);
    // the allocator assigns the port after the create returns (as swarmkit's): wait for it
    const published = await waitFor(() => {
      const s = JSON.parse(c.manager.dockerOk(['service', 'inspect', 'pub']))[0] as { Endpoint?: { Ports?: { PublishedPort: number }[] } };
      return s.Endpoint?.Ports?.[0]?.PublishedPort;
    }, 20_000, 'the published port allocated', 100);
    assert.ok(published >= 30000, `an auto-assigned published port (${published})`);
    const ports = { protocol: 'tcp', port: String(published) };
    let m = await scrapeUntilAt(at(w), 'the worker mesh listening', (x) => v(x, 'shoal_mesh_listening', ports) === 1);
    await waitFor(() => new Promise<true | undefined>((resolve) => {
      const s = net.connect(published, w.ip);
      s.on('data', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(undefined));
      s.on('close', () => resolve(undefined));
    }), 20_000, 'the service answering through the worker', 100);
    m = await scrapeAt(at(w));
    assert.equal(v(m, 'swarm_node_manager'), 0);
    assert.equal(v(m, 'swarm_manager_leader'), 0);
    for (const name of ['swarm_manager_nodes', 'swarm_manager_tasks_total', 'shoal_service_desired_tasks', 'swarm_raft_transaction_latency_seconds']) assert.equal(m.has(name), false, `${name} only on managers`);
    const before = v(m, 'shoal_mesh_connections_total', ports) ?? 0;
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(published, w.ip, () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
    m = await scrapeUntilAt(at(w), 'the connection counted', (x) => (v(x, 'shoal_mesh_connections_total', ports) ?? 0) >= before + 1);
    assert.equal(v(m, 'shoal_mesh_connections_total', ports), before + 1);
    const mm = await scrapeAt(at(c.manager));
    assert.equal(v(mm, 'swarm_manager_leader'), 1);
    assert.equal(v(mm, 'swarm_manager_nodes', { state: 'ready' }), 2);
  });

  test('a worker killed -9 is marked down for heartbeat failure: the manager counts one miss', async () => {
    const w = c.workers[0]!;
    const before = v(await scrapeAt(at(c.manager)), 'shoal_dispatcher_heartbeat_misses_total') ?? 0;
    c.kill9(w);
    const m = await scrapeUntilAt(at(c.manager), 'the worker down', (x) => v(x, 'swarm_manager_nodes', { state: 'down' }) === 1, 30_000);
    assert.equal(v(m, 'shoal_dispatcher_heartbeat_misses_total'), before + 1);
    assert.equal(v(m, 'swarm_manager_nodes', { state: 'ready' }), 1);
  });
});
