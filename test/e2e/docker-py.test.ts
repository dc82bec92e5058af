// docker-py 7.1.0 against a Shoal daemon on the process runtime: the Python SDK must work unchanged.
// test/e2e/py/swarm_steps.py runs one step per call and prints what it saw as JSON; the asserts are here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestDaemon, freePort, waitFor } from '../harness/daemon';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCRIPT = path.join(ROOT, 'test', 'e2e', 'py', 'swarm_steps.py');

function dockerPyVersion(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import docker; print(docker.__version__)'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const version = dockerPyVersion();
// docker-py is part of every machine of this kind, CI's included: there a missing one is a failure.
if (!version && process.env.CI === 'true') throw new Error('docker-py is not importable by python3, and CI=true requires this suite to run');
const skip = version ? undefined : 'docker-py is not installed for python3 (`python3 -c "import docker"` fails)';

interface PyError {
  kind: 'NotFound' | 'APIError' | null;
  status?: number;
  explanation?: string;
}

type Json = Record<string, any>;

describe('docker-py drives a Shoal daemon (process runtime)', { skip, concurrency: false }, () => {
  let d: TestDaemon;
  const step = (name: string, arg?: string): Json => {
    const r = spawnSync('python3', [SCRIPT, d.sock, name, ...(arg ? [arg] : [])], { encoding: 'utf8', timeout: 150_000 });
    if (r.status !== 0) throw new Error(`docker-py step ${name} failed (${r.status}):\n${r.stdout}\n${r.stderr}${r.error ? String(r.error) : ''}\n--- daemon log ---\n${d.log()}`);
    return JSON.parse(r.stdout) as Json;
  };

  before(async () => {
    d = new TestDaemon({ runtime: 'process', hostname: 'shoal-py' });
    await d.start();
  });
  after(async () => {
    if (!d) return;
    const ls = d.docker(['service', 'ls', '-q']).stdout.trim();
    if (ls) d.docker(['service', 'rm', ...ls.split('\n')]);
    await waitFor(async () => ((await d.api<unknown[]>('GET', '/v1.47/tasks')).body as unknown[] | undefined)?.length === 0, 30_000, 'tasks gone').catch(() => undefined);
    await d.cleanup();
  });

  test('swarm init, client.swarm.attrs and APIClient.inspect_swarm()', async () => {
    const port = await freePort();
    const r = step('init', String(port));
    assert.equal(r.docker_py, version);
    assert.equal(r.api_version, '1.47', 'version="auto" negotiates our API version');
    assert.match(r.node_id, /^[0-9a-z]{25}$/);
    const attrs = r.swarm_attrs;
    assert.match(attrs.ID, /^[0-9a-z]{25}$/);
    assert.equal(attrs.Spec.Name, 'default');
    assert.equal(attrs.Spec.Raft.ElectionTick, 10);
    assert.match(attrs.JoinTokens.Worker, /^SWMTKN-1-/);
    assert.equal(attrs.internal, undefined);
    assert.deepEqual(r.inspect_swarm, attrs, 'the model and the low-level client see the same swarm');
    assert.equal(r.swarm_version, attrs.Version.Index);
    assert.equal(r.info_swarm.LocalNodeState, 'active');
    assert.equal(r.info_swarm.NodeID, r.node_id);
    assert.equal(r.info_swarm.NodeAddr, '127.0.0.1');
    assert.equal(r.again.kind, 'APIError');
    assert.equal(r.again.status, 503);
    assert.match(r.again.explanation, /This node is already part of a swarm/);
  });

  test('client.swarm.update changes the spec', () => {
    const r = step('swarm_update');
    assert.equal(r.before.Spec.Raft.SnapshotInterval, 10000);
    assert.equal(r.after.Spec.Raft.SnapshotInterval, 5000);
    assert.equal(r.after.Spec.Orchestration.TaskHistoryRetentionLimit, 3);
    assert.ok(r.after.Version.Index > r.before.Version.Index);
    assert.equal(r.after.JoinTokens.Worker, r.before.JoinTokens.Worker, 'tokens kept without rotate');
  });

  test('nodes.list / nodes.get', () => {
    const r = step('nodes');
    assert.equal(r.nodes.length, 1);
    const n = r.nodes[0];
    assert.equal(n.Description.Hostname, 'shoal-py');
    assert.equal(n.Spec.Role, 'manager');
    assert.equal(n.Status.State, 'ready');
    assert.equal(n.ManagerStatus.Leader, true);
    assert.deepEqual(r.managers, [n.ID]);
    assert.equal(r.get.ID, n.ID);
    assert.equal(r.missing.kind, 'NotFound');
    assert.equal(r.missing.status, 404);
  });

  test('services.create converges; the spec is stored as sent', () => {
    const r = step('create');
    assert.match(r.id, /^[0-9a-z]{25}$/);
    assert.equal(r.name, 'pyweb');
    const spec = r.attrs.Spec;
    assert.deepEqual(spec.Mode, { Replicated: { Replicas: 2 } }, 'docker-py sends {"replicated": …}; it is read as Go reads it');
    assert.deepEqual(spec.Labels, { tier: 'front', 'Mixed.Case': 'kept' }, 'label keys are data, never case-folded');
    assert.deepEqual(spec.TaskTemplate.ContainerSpec.Env, ['GREETING=hi']);
    assert.equal(spec.TaskTemplate.ContainerSpec.StopGracePeriod, 1_000_000_000);
    const tasks = r.tasks as Json[];
    assert.equal(tasks.length, 2);
    assert.deepEqual(tasks.map((t) => t.Slot).sort(), [1, 2]);
    for (const t of tasks) {
      assert.equal(t.ServiceID, r.id);
      assert.equal(t.Status.State, 'running');
      assert.ok(t.Status.ContainerStatus.PID > 0);
    }
  });

  test('services.list with filters and status', () => {
    const r = step('list');
    assert.deepEqual(r.all, ['pyweb']);
    assert.deepEqual(r.by_name, ['pyweb']);
    assert.deepEqual(r.by_label, ['pyweb']);
    assert.deepEqual(r.low_level, ['pyweb']);
    assert.deepEqual(r.status, [{ RunningTasks: 2, DesiredTasks: 2, CompletedTasks: 0 }]);
  });

  test('service.scale(3) brings a third task', () => {
    const r = step('scale');
    assert.deepEqual(r.ok, { Warnings: null }, "moby's ServiceUpdateResponse: Warnings is not omitempty");
    assert.deepEqual(r.mode, { Replicated: { Replicas: 3 } });
    assert.equal(r.running, 3);
  });

  test('service.update replaces the tasks; a stale version is refused', () => {
    const r = step('update');
    assert.ok(r.after > r.before);
    assert.deepEqual(r.spec.TaskTemplate.ContainerSpec.Env, ['GREETING=hi', 'COLOR=blue']);
    assert.deepEqual(r.spec.Labels, { tier: 'front', v: '2' });
    assert.deepEqual(r.spec.Mode, { Replicated: { Replicas: 3 } }, 'update keeps the replica count');
    assert.equal(r.stale.kind, 'APIError');
    assert.equal(r.stale.status, 500, 'dockerd answers 500 to an out-of-sequence update');
    assert.match(r.stale.explanation, /update out of sequence/);
  });

  test('service.logs: plain, tail, timestamps, details, follow', () => {
    const r = step('logs');
    const plain = r.plain as string[];
    for (const l of ['line-1\n', 'line-2\n', 'line-3\n']) assert.ok(plain.includes(l), `${l.trim()} in ${JSON.stringify(plain)}`);
    const tail = r.tail as string[];
    assert.ok(tail.length > 0);
    assert.ok(tail.every((l) => l === 'line-3\n'), `tail=1 keeps each task's last line: ${JSON.stringify(tail)}`);
    for (const l of r.stamped as string[]) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line-3\n$/);
    const ids = new Set<string>();
    for (const l of r.details as string[]) {
      const m = /^com\.docker\.swarm\.node\.id=([0-9a-z]+),com\.docker\.swarm\.service\.id=([0-9a-z]+),com\.docker\.swarm\.task\.id=([0-9a-z]+) line-3\n$/.exec(l);
      assert.ok(m, l);
      ids.add(m[3]!);
    }
    for (const id of r.task_ids as string[]) assert.ok(ids.has(id), `running task ${id} has a log line`);
    assert.deepEqual(r.followed, ['line-3\n'], 'follow streams the tail first and stays open');
  });

  test('task logs through the API (tail, timestamps)', async () => {
    const tasks = (await d.api<Json[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['pyweb'], 'desired-state': ['running'] }))}`)).body;
    const id = tasks[0]!.ID as string;
    const r = spawnSync(
      'python3',
      ['-c', 'import docker,sys; c=docker.APIClient(base_url="unix://"+sys.argv[1], version="auto", timeout=30); r=c._get(c._url("/tasks/{0}/logs", sys.argv[2]), params={"stdout":1,"tail":2,"timestamps":1}, stream=True); print(b"".join(c._multiplexed_response_stream_helper(r)).decode(), end="")', d.sock, id],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 2, r.stdout);
    assert.match(lines[0]!, /^\S+Z line-2$/);
    assert.match(lines[1]!, /^\S+Z line-3$/);
  });

  test('errors: NotFound and APIError 409 as docker-py raises them', () => {
    const r = step('errors') as Record<string, PyError>;
    for (const k of ['get_missing', 'inspect_missing', 'task_missing', 'remove_missing']) {
      assert.equal(r[k]!.kind, 'NotFound', k);
      assert.equal(r[k]!.status, 404, k);
    }
    assert.match(r.get_missing!.explanation!, /service nosuch not found/);
    assert.equal(r.duplicate!.kind, 'APIError');
    assert.equal(r.duplicate!.status, 409);
    assert.match(r.duplicate!.explanation!, /already exists/);
  });

  test('service.force_update(): a truthy answer (Docker\'s {"Warnings": null}), the version and ForceUpdate move', () => {
    const r = step('force_update');
    assert.deepEqual(r.ok, { Warnings: null }, 'docker-py asserts service.force_update() is truthy: {} is not');
    assert.deepEqual(r.body, { Warnings: null });
    assert.ok(r.mid > r.before);
    assert.ok(r.after > r.mid);
    assert.equal(r.force_after, r.force_before + 7);
  });

  test('service.remove, then it is gone', () => {
    const r = step('remove');
    assert.equal(r.ok, true);
    assert.deepEqual(r.left, []);
    assert.equal(r.get_after.kind, 'NotFound');
    assert.equal(r.tasks_filter.kind, 'NotFound', 'a service filter naming a removed service is a 404, as in dockerd');
  });

  test('swarm.leave() on the only manager: 503 with the last-manager warning; still in the swarm', () => {
    const r = step('leave_refused');
    assert.equal(r.refused.kind, 'APIError');
    assert.equal(r.refused.status, 503, 'test_leave_swarm expects 503');
    assert.equal(
      r.refused.explanation,
      'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ',
    );
    assert.equal(r.state, 'active');
  });

  test('swarm.leave(force=True)', () => {
    const r = step('leave');
    assert.equal(r.ok, true);
    assert.equal(r.state, 'inactive');
  });

  test('off any swarm: leave and inspect answer 503 (leave_swarm(force=True) then returns True)', () => {
    const r = step('not_in_swarm');
    assert.deepEqual(r.leave, { kind: 'APIError', status: 503, explanation: 'This node is not part of a swarm' });
    assert.equal(r.leave_force, true);
    assert.equal(r.inspect.status, 503);
    assert.match(r.inspect.explanation, /^This node is not a swarm manager\./);
    assert.ok([406, 503].includes(r.reload.status), 'models_swarm_test: 406 or 503');
  });

  test('node update right after swarm init with the version just listed (test_update_node, test_list_get_update)', async () => {
    const r = step('node_update_after_init', String(await freePort()));
    for (const [i, round] of (r.rounds as Json[]).entries()) {
      assert.deepEqual(round.first, { kind: null }, `round ${i}: the version listed right after init is current`);
      assert.deepEqual(round.updated_spec.Labels, { 'new.label': 'new value' });
      assert.deepEqual(round.revert, { kind: null }, `round ${i}: revert with the inspected version`);
      assert.deepEqual(round.reverted_spec, { Labels: {}, Role: 'manager', Availability: 'active' });
      assert.deepEqual(round.model, { kind: null }, `round ${i}: Node.update with the listed version`);
      assert.deepEqual(round.model_labels, { foo: 'bar' });
      assert.ok(round.model_version > 0);
    }
  });
});
