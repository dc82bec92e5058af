import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nodeFixture, taskFixture } from '../../testing/fixtures';
import type { Service, Task } from '../../types';
import { ShoalError } from '../../lib/errors';
import { applyPatch, availabilitySpec, buildView, diffView, EMPTY_VIEW, failedView, imageName, portText, scaledSpec, sseFrame, type DashboardView, type ServiceWithStatus } from './view';

function service(over: Partial<ServiceWithStatus> & { ID: string; name: string }): ServiceWithStatus {
  const { name, ...rest } = over;
  return {
    Version: { Index: 1 },
    CreatedAt: '2026-01-01T00:00:00Z',
    UpdatedAt: '2026-01-01T00:00:00Z',
    Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox:latest@sha256:abc123' } }, Mode: { Replicated: { Replicas: 2 } } },
    Endpoint: { Spec: {} },
    internal: { specVersion: 1 },
    ServiceStatus: { RunningTasks: 1, DesiredTasks: 2, CompletedTasks: 0 },
    ...rest,
  };
}

const task = (id: string, o: Partial<Task>): Task =>
  taskFixture({ ID: id, ServiceID: 'svc1', CreatedAt: '2026-01-01T00:00:01Z', Spec: { ContainerSpec: { Image: 'busybox:latest' } }, ...o });

const manager = nodeFixture({
  ID: 'n1',
  Spec: { Role: 'manager', Availability: 'active' },
  Description: { Hostname: 'alpha', Platform: {}, Resources: { NanoCPUs: 2e9, MemoryBytes: 4 << 30 }, Engine: { EngineVersion: '0.1.0' } },
  ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '10.0.0.1:2377' },
});
const worker = nodeFixture({ ID: 'n2', Description: { Hostname: 'beta', Platform: {}, Resources: {}, Engine: { EngineVersion: '0.1.0' } }, Spec: { Role: 'worker', Availability: 'drain' } });

describe('dashboard view', () => {
  test('nodes: role, status, availability, leader, resources and task counts; managers first', () => {
    const tasks = [task('t1', { NodeID: 'n2', Slot: 1 }), task('t2', { NodeID: 'n2', Slot: 2, DesiredState: 'shutdown' }), task('t3', { NodeID: 'n1', Slot: 3 })];
    const v = buildView({ nodes: [worker, manager], services: [], tasks });
    assert.deepEqual(
      v.nodes.map((n) => [n.hostname, n.role, n.status, n.availability, n.managerStatus, n.leader, n.nanoCpus, n.memoryBytes, n.tasks]),
      [
        ['alpha', 'manager', 'ready', 'active', 'Leader', true, 2e9, 4 << 30, 1],
        ['beta', 'worker', 'ready', 'drain', '', false, 0, 0, 1],
      ],
    );
  });

  test('services: mode, running/desired, image without digest, ports, update progress, what the page may do', () => {
    const web = service({
      ID: 'svc1',
      name: 'web',
      Endpoint: { Spec: {}, Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 30001, PublishMode: 'ingress' }] },
      UpdateStatus: { State: 'updating', StartedAt: '2026-01-01T00:00:02Z', Message: 'update in progress' },
      PreviousSpec: { Name: 'web', TaskTemplate: {}, Mode: { Replicated: { Replicas: 1 } } },
      internal: { specVersion: 2 },
    });
    const glob = service({ ID: 'svc2', name: 'agent', Spec: { Name: 'agent', TaskTemplate: {}, Mode: { Global: {} } } });
    const job = service({ ID: 'svc3', name: 'batch', Spec: { Name: 'batch', TaskTemplate: {}, Mode: { ReplicatedJob: { TotalCompletions: 3 } } }, ServiceStatus: { RunningTasks: 1, DesiredTasks: 1, CompletedTasks: 2 } });
    // one task on the new spec and running, one old one still running: 1 of 2 updated
    const tasks = [
      task('a', { Slot: 1, Spec: web.Spec.TaskTemplate, internal: { specVersion: 2, serviceName: 'web' }, Status: { State: 'running', Timestamp: '', Message: '' } }),
      task('b', { Slot: 2, Spec: { ContainerSpec: { Image: 'busybox:old' } }, internal: { specVersion: 1, serviceName: 'web' }, Status: { State: 'running', Timestamp: '', Message: '' } }),
    ];
    const v = buildView({ nodes: [], services: [web, glob, job], tasks });
    assert.deepEqual(
      v.services.map((s) => [s.name, s.mode, s.running, s.desired, s.completed, s.scalable, s.canRollback]),
      [
        ['agent', 'global', 1, 2, undefined, false, false],
        ['batch', 'replicated job', 1, 1, 2, true, false],
        ['web', 'replicated', 1, 2, undefined, true, true],
      ],
    );
    const w = v.services.find((s) => s.name === 'web')!;
    assert.equal(w.image, 'busybox:latest');
    assert.deepEqual(w.ports, ['*:30001->80/tcp']);
    assert.deepEqual(w.update, { state: 'updating', message: 'update in progress', updated: 1, total: 2, startedAt: '2026-01-01T00:00:02Z', completedAt: '' });
    assert.equal(v.services.find((s) => s.name === 'agent')!.update, undefined);
  });

  test('tasks in `docker service ps` order: newest of a slot first, the others history, node names and errors', () => {
    const tasks = [
      task('old', { Slot: 1, NodeID: 'n2', CreatedAt: '2026-01-01T00:00:01Z', DesiredState: 'shutdown', Status: { State: 'failed', Timestamp: 't1', Message: 'started', Err: 'task: non-zero exit (1)', ContainerStatus: { ExitCode: 1 } } }),
      task('new', { Slot: 1, NodeID: 'n2', CreatedAt: '2026-01-01T00:00:05Z', Status: { State: 'running', Timestamp: 't2', Message: 'started' } }),
      task('two', { Slot: 2, NodeID: 'gone', Status: { State: 'pending', Timestamp: 't3', Message: 'pending task scheduling', Err: 'no suitable node (1 node not available for new tasks)' } }),
    ];
    const v = buildView({ nodes: [worker], services: [], tasks });
    assert.deepEqual(
      v.tasks.map((t) => [t.id, t.name, t.node, t.state, t.history, t.error, t.exitCode]),
      [
        ['new', 'web.1', 'beta', 'running', false, '', undefined],
        ['old', 'web.1', 'beta', 'failed', true, 'task: non-zero exit (1)', 1],
        ['two', 'web.2', 'gone', 'pending', false, 'no suitable node (1 node not available for new tasks)', undefined],
      ],
    );
  });

  test('a slot whose task moved to another node: the newest is current wherever it runs', () => {
    const tasks = [
      task('was', { Slot: 3, NodeID: 'a-node', CreatedAt: '2026-01-01T00:00:01Z', DesiredState: 'shutdown' }),
      task('now', { Slot: 3, NodeID: 'z-node', CreatedAt: '2026-01-01T00:00:02Z' }),
    ];
    assert.deepEqual(buildView({ nodes: [], services: [], tasks }).tasks.map((t) => [t.id, t.history]), [['now', false], ['was', true]]);
  });

  test('global tasks are named by node', () => {
    const v = buildView({ nodes: [], services: [], tasks: [task('g', { NodeID: 'n9', Slot: undefined })] });
    assert.equal(v.tasks[0]!.name, 'web.n9');
  });

  test('port and image texts', () => {
    assert.equal(portText({ TargetPort: 53, PublishedPort: 5353, Protocol: 'udp', PublishMode: 'host' }), '5353->53/udp (host)');
    assert.equal(portText({ TargetPort: 80 }), '*:->80/tcp');
    assert.equal(imageName('nginx:1@sha256:0123abcd'), 'nginx:1');
    assert.equal(imageName(undefined), '');
  });
});

describe('dashboard patches', () => {
  const base = (): DashboardView =>
    buildView({
      nodes: [manager, worker],
      services: [service({ ID: 'svc1', name: 'web' })],
      tasks: [task('t1', { Slot: 1, NodeID: 'n1' }), task('t2', { Slot: 2, NodeID: 'n2' })],
    });

  test('nothing changed: no patch', () => {
    assert.equal(diffView(base(), base()), undefined);
  });

  test('a scale shows as the changed service row and the new task, nothing else', () => {
    const next = buildView({
      nodes: [manager, worker],
      services: [service({ ID: 'svc1', name: 'web', ServiceStatus: { RunningTasks: 2, DesiredTasks: 3, CompletedTasks: 0 } })],
      tasks: [task('t1', { Slot: 1, NodeID: 'n1' }), task('t2', { Slot: 2, NodeID: 'n2' }), task('t3', { Slot: 3, NodeID: 'n2' })],
    });
    const p = diffView(base(), next)!;
    assert.deepEqual(p.services?.set.map((s) => [s.name, s.desired]), [['web', 3]]);
    assert.deepEqual(p.tasks?.set.map((t) => t.id), ['t3']);
    assert.equal(p.tasks?.order, undefined, 'appended at the end: no reorder');
    assert.deepEqual(p.nodes?.set.map((n) => [n.hostname, n.tasks]), [['beta', 2]]);
    assert.deepEqual(applyPatch(base(), p), next);
  });

  test('removals and reorders apply to the same view the server built', () => {
    const prev = base();
    const next = buildView({ nodes: [worker], services: [], tasks: [task('t0', { Slot: 1, NodeID: 'n2', CreatedAt: '2026-01-01T00:00:09Z' }), task('t2', { Slot: 2, NodeID: 'n2' })] });
    const p = diffView(prev, next)!;
    assert.deepEqual(p.services, { set: [], remove: ['svc1'] });
    assert.deepEqual(p.nodes?.remove, ['n1']);
    assert.deepEqual(p.tasks?.order, ['t0', 't2']);
    assert.deepEqual(applyPatch(prev, p), next);
  });

  test('an error is set and cleared; the rows stay', () => {
    const failed = failedView(base(), 'This node is not a swarm manager.');
    const p = diffView(base(), failed)!;
    assert.deepEqual(p, { error: 'This node is not a swarm manager.' });
    assert.deepEqual(applyPatch(base(), p), failed);
    assert.deepEqual(diffView(failed, base()), { error: '' });
    assert.deepEqual(applyPatch(failed, { error: '' }), base());
    assert.deepEqual(applyPatch(EMPTY_VIEW, diffView(EMPTY_VIEW, base())!), base());
  });

  test('server-sent event frames', () => {
    assert.equal(sseFrame('patch', { a: 'x\ny' }), 'event: patch\ndata: {"a":"x\\ny"}\n\n');
  });
});

describe('dashboard actions', () => {
  const isInvalid = (re: RegExp) => (e: unknown) => e instanceof ShoalError && e.kind === 'InvalidArgument' && re.test(e.message);
  const svc = (mode: Service['Spec']['Mode']): Service => service({ ID: 's', name: 'web', Spec: { Name: 'web', TaskTemplate: {}, Mode: mode } });

  test('scale sets replicas (replicated) or completions (replicated job) on a copy of the spec', () => {
    const s = svc({ Replicated: { Replicas: 1 } });
    assert.deepEqual(scaledSpec(s, 4).Mode, { Replicated: { Replicas: 4 } });
    assert.deepEqual(s.Spec.Mode, { Replicated: { Replicas: 1 } }, 'the stored object is not touched');
    assert.deepEqual(scaledSpec(svc({ ReplicatedJob: { TotalCompletions: 1 } }), 0).Mode, { ReplicatedJob: { TotalCompletions: 0 } });
  });

  test('scale refuses a global service with the docker CLI’s text, and bad counts', () => {
    assert.throws(() => scaledSpec(svc({ Global: {} }), 2), isInvalid(/^scale can only be used with replicated or replicated-job mode$/));
    for (const bad of [-1, 1.5, '3', null, undefined, Number.MAX_VALUE]) assert.throws(() => scaledSpec(svc({ Replicated: {} }), bad), isInvalid(/^invalid replicas value/));
  });

  test('availability: drain, pause, active; anything else refused', () => {
    assert.deepEqual(availabilitySpec(worker, 'active'), { Role: 'worker', Availability: 'active' });
    assert.equal(worker.Spec.Availability, 'drain');
    for (const bad of ['Drain', '', 3, undefined]) assert.throws(() => availabilitySpec(worker, bad), isInvalid(/^invalid availability/));
  });
});
