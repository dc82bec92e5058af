import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTaskDirty, stableEqual, newTask, type Task } from '../../../types';
import { isoTime } from '../../../lib/time';
import { effectiveConfig } from './config';
import { BUMP_AFTER_SCALE_DOWN_MAX_MS, BUMP_AFTER_SCALE_DOWN_MS, MAX_BUMPS_PER_PASS } from './planner';
import { SEC, World, img, mkNode, mkService } from './testkit';

const runnable = (w: World) => [...w.tasks.values()].filter((t) => t.DesiredState === 'running' || t.DesiredState === 'ready');

// ---- dirtiness and config

test('stableEqual: undefined members count as absent, order of keys is irrelevant', () => {
  assert.ok(stableEqual({ a: 1, b: undefined }, { a: 1 }));
  assert.ok(stableEqual({ a: [1, { x: 2, y: 3 }] }, { a: [1, { y: 3, x: 2 }] }));
  assert.ok(!stableEqual({ a: [1, 2] }, { a: [2, 1] }));
  assert.ok(!stableEqual({ a: null }, { a: 0 }));
  assert.ok(!stableEqual({}, []));
  // a key defined on one side only, either side, and undefined on the other side as well
  assert.ok(!stableEqual({ a: 1, b: 2 }, { a: 1 }));
  assert.ok(!stableEqual({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(!stableEqual({ a: 1, c: undefined }, { a: 1, b: 2 }));
  assert.ok(!stableEqual({ a: 1, b: 2 }, { a: 1, c: 2 }));
  assert.ok(stableEqual({ b: undefined, a: { c: [] } }, { a: { c: [], d: undefined } }));
  assert.ok(!stableEqual({ a: { c: [] } }, { a: { c: [undefined] } }));
  assert.ok(!stableEqual([1, 2], [1, 2, 3]));
  // inherited members are not the object's own
  assert.ok(stableEqual(Object.create({ inherited: 1 }), {}));
});

test('isTaskDirty: image, ForceUpdate dirty; replicas and UpdateConfig not', () => {
  const s = mkService({});
  const t = newTask({ id: 't', service: s, slot: 1, now: 0 });
  assert.equal(isTaskDirty(t, s), false);
  const s2 = structuredClone(s);
  s2.Spec.Mode = { Replicated: { Replicas: 9 } };
  s2.Spec.UpdateConfig = { Parallelism: 4 };
  assert.equal(isTaskDirty(t, s2), false);
  const s3 = structuredClone(s);
  s3.Spec.TaskTemplate.ForceUpdate = 1;
  assert.equal(isTaskDirty(t, s3), true);
  const s4 = structuredClone(s);
  s4.Spec.TaskTemplate.ContainerSpec = { Image: 'nginx:2' };
  assert.equal(isTaskDirty(t, s4), true);
});

test('isTaskDirty with a template cache: the same answers, one comparison per spec object', () => {
  const s = mkService({});
  const shared = newTask({ id: 'a', service: s, slot: 1, now: 0 }).Spec;
  const tasks = [1, 2, 3].map((slot) => ({ ...newTask({ id: `t${slot}`, service: s, slot, now: 0 }), Spec: shared }));
  // (newTask's spec is the service's template itself; a task as read from the store has its own)
  const own = { ...newTask({ id: 'o', service: s, slot: 4, now: 0 }), Spec: structuredClone(s.Spec.TaskTemplate) };
  const s4 = structuredClone(s);
  s4.Spec.TaskTemplate.ContainerSpec = { Image: 'nginx:2' };
  for (const svc of [s, s4]) {
    const cache = new Map<Task['Spec'], boolean>();
    for (const t of [...tasks, own]) assert.equal(isTaskDirty(t, svc, undefined, cache), isTaskDirty(t, svc));
    // the three tasks sharing one spec object were compared once
    assert.equal(cache.size, 2);
  }
});

/** The task's address on `ingress`. */
const ingressAttachment = (): NonNullable<Task['NetworksAttachments']> => [
  { Network: { ID: 'ing', Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', Spec: { Name: 'ingress', Labels: {}, Scope: 'swarm', Ingress: true }, DriverState: { Name: 'overlay', Options: {} }, IPAMOptions: { Driver: {} } }, Addresses: ['10.0.0.5/24'] },
];

test('isTaskDirty: a change of host-mode ports (bound by the container) is dirty once the task is allocated; ingress ports are not', () => {
  const s = mkService({});
  s.Spec.EndpointSpec = { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] };
  const t = newTask({ id: 't', service: s, slot: 1, now: 0 });
  t.NetworksAttachments = ingressAttachment();
  assert.equal(isTaskDirty(t, s), false);
  const added = structuredClone(s);
  added.Spec.EndpointSpec!.Ports!.push({ TargetPort: 81, PublishedPort: 8081, PublishMode: 'host' });
  assert.equal(isTaskDirty(t, added), false, 'not allocated yet: it gets the ports when it is');
  t.Status.State = 'running';
  t.internal.ports = [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }];
  assert.equal(isTaskDirty(t, added), true, '--publish-add mode=host');
  const ingressOnly = structuredClone(s);
  ingressOnly.Spec.EndpointSpec!.Ports!.push({ Protocol: 'tcp', TargetPort: 80, PublishedPort: 9090, PublishMode: 'ingress' });
  assert.equal(isTaskDirty(t, ingressOnly), false, '--publish-add in ingress mode for a served target: the mesh follows it');
  t.internal.ports = [...t.internal.ports, { Protocol: 'tcp', TargetPort: 81, PublishedPort: 8081, PublishMode: 'host' }];
  assert.equal(isTaskDirty(t, added), false, 'the same host-mode ports (protocol tcp by default)');
  assert.equal(isTaskDirty(t, s), true, '--publish-rm of a host-mode port');
});

test('isTaskDirty: the first ingress port of a task without an ingress address is dirty; more published ports are not', () => {
  const s = mkService({});
  const t = newTask({ id: 't', service: s, slot: 1, now: 0 });
  t.Status.State = 'running';
  const first = structuredClone(s);
  first.Spec.EndpointSpec = { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] };
  assert.equal(isTaskDirty(t, first), true, 'the first ingress port: the task is not on ingress');
  t.NetworksAttachments = ingressAttachment();
  t.internal.ports = [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }];
  assert.equal(isTaskDirty(t, first), false);
  const same = structuredClone(first);
  same.Spec.EndpointSpec!.Ports!.push({ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8082, PublishMode: 'ingress' });
  assert.equal(isTaskDirty(t, same), false, 'another published port for target 80');
  assert.equal(isTaskDirty(t, s), false, '--publish-rm of every port: nothing to reach');
});

test('isTaskDirty: a placement-only change is clean while the task node still fits', () => {
  const s = mkService({});
  const t = newTask({ id: 't', service: s, slot: 1, now: 0 });
  const node = mkNode('n1');
  node.Spec.Labels = { zone: 'eu' };
  const s2 = structuredClone(s);
  s2.Spec.TaskTemplate.Placement = { Constraints: ['node.labels.zone==eu'] };
  assert.equal(isTaskDirty(t, s2), true, 'without the node it is dirty');
  assert.equal(isTaskDirty(t, s2, node), false);
  s2.Spec.TaskTemplate.Placement = { Constraints: ['node.labels.zone==us'] };
  assert.equal(isTaskDirty(t, s2, node), true);
  s2.Spec.TaskTemplate.ContainerSpec = { Image: 'x' };
  s2.Spec.TaskTemplate.Placement = { Constraints: ['node.labels.zone==eu'] };
  assert.equal(isTaskDirty(t, s2, node), true, 'other changes still make it dirty');
});

test('config defaults are Docker defaults; parallelism 0 is unlimited; durations in ns', () => {
  assert.deepEqual(effectiveConfig(undefined), { parallelism: 1, delayMs: 0, failureAction: 'pause', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first' });
  const c = effectiveConfig({ Parallelism: 0, Delay: 2 * SEC, Monitor: 0, Order: 'start-first', FailureAction: 'rollback', MaxFailureRatio: 0.5 });
  assert.equal(c.parallelism, Infinity);
  assert.equal(c.delayMs, 2000);
  assert.equal(c.monitorMs, 0);
});

// ---- no update

test('a fresh service with up-to-date tasks: nothing to do, no UpdateStatus', () => {
  const w = new World(mkService({})).seed();
  const p = w.step();
  assert.equal(p.service, undefined);
  assert.deepEqual([p.create.length, p.update.length, p.wakeAt], [0, 0, undefined]);
});

test('replicas-only change: clean tasks get their spec version bumped in place, no UpdateStatus', () => {
  const w = new World(mkService({ replicas: 3 })).seed();
  w.updateSpec((s) => (s.Mode = { Replicated: { Replicas: 5 } }));
  const p = w.step();
  assert.equal(p.service, undefined);
  assert.equal(p.create.length, 0);
  assert.deepEqual(
    p.update.map((t) => [t.ID, t.internal.specVersion, t.DesiredState]),
    [
      ['t1', 2, 'running'],
      ['t2', 2, 'running'],
      ['t3', 2, 'running'],
    ],
  );
  assert.equal(w.step().update.length, 0, 'idempotent');
});

test('a new spec version over many clean tasks: MAX_BUMPS_PER_PASS a pass (one Raft entry), the next pass at once', () => {
  const n = 2 * MAX_BUMPS_PER_PASS + 10;
  const w = new World(mkService({ replicas: n })).seed();
  w.updateSpec((s) => (s.Mode = { Replicated: { Replicas: n + 1 } }));
  const sizes: number[] = [];
  for (let pass = 0; pass < 5; pass++) {
    const p = w.step();
    sizes.push(p.update.length);
    assert.equal(p.create.length, 0);
    assert.equal(p.service, undefined, 'no UpdateStatus: not an update');
    if (p.update.length === MAX_BUMPS_PER_PASS) assert.equal(p.wakeAt, w.now, 'more to bump: plan again now');
    else assert.equal(p.wakeAt, undefined);
  }
  assert.deepEqual(sizes, [MAX_BUMPS_PER_PASS, MAX_BUMPS_PER_PASS, 10, 0, 0]);
  assert.ok([...w.tasks.values()].every((t) => t.internal.specVersion === w.service.internal.specVersion));
});

test('a scale-down: no bumps while the surplus is live (it is about to be removed), looks 1, 2, 4, 8, 8 s apart, then the survivors', () => {
  const w = new World(mkService({ replicas: 4 })).seed();
  w.updateSpec((s) => (s.Mode = { Replicated: { Replicas: 2 } }));
  const waits: number[] = [];
  for (let look = 0; look < 5; look++) {
    const p = w.step();
    assert.deepEqual([p.create.length, p.update.length, p.service], [0, 0, undefined], 'nothing written while 4 slots live for 2 replicas');
    assert.ok(p.wakeAt !== undefined);
    waits.push(p.wakeAt - w.now);
    w.now = p.wakeAt;
  }
  assert.deepEqual(waits, [BUMP_AFTER_SCALE_DOWN_MS, 2 * BUMP_AFTER_SCALE_DOWN_MS, 4 * BUMP_AFTER_SCALE_DOWN_MS, BUMP_AFTER_SCALE_DOWN_MAX_MS, BUMP_AFTER_SCALE_DOWN_MAX_MS]);
  // the orchestrator removes slots 3 and 4 (wanted removed, then shut down)
  for (const id of ['t3', 't4']) {
    const t = w.tasks.get(id)!;
    w.tasks.set(id, { ...t, DesiredState: 'remove', Status: { ...t.Status, State: 'shutdown' } });
  }
  const q = w.step();
  assert.deepEqual(
    q.update.map((t) => [t.ID, t.internal.specVersion]),
    [
      ['t1', 2],
      ['t2', 2],
    ],
    'the survivors are bumped, the removed tasks are not',
  );
  assert.equal(q.wakeAt, undefined);
  assert.equal(w.memo?.bumpWaitMs, undefined, 'the wait starts again from a second at the next scale-down');
});

test('replicas-only change after a completed update clears the old status (as Docker resets it)', () => {
  const w = new World(mkService({ replicas: 2, update: { Monitor: 0 } })).seed();
  img(w, 'nginx:2');
  w.run();
  assert.equal(w.service.UpdateStatus?.State, 'completed');
  w.updateSpec((s) => (s.Mode = { Replicated: { Replicas: 3 } }));
  const p = w.step();
  assert.ok(p.service);
  assert.equal(w.service.UpdateStatus, undefined);
});

// ---- stop-first, parallelism, delay, monitor

test('stop-first: new task READY, old shut down, started once the old one stopped', () => {
  const w = new World(mkService({ replicas: 3 })).seed();
  img(w, 'nginx:2');
  const p = w.step();
  assert.deepEqual(p.service?.UpdateStatus, { State: 'updating', StartedAt: isoTime(w.now), Message: 'update in progress' });
  assert.equal(p.create.length, 1);
  const nt = p.create[0] as Task;
  assert.deepEqual([nt.Slot, nt.DesiredState, nt.Spec.ContainerSpec?.Image, nt.internal.specVersion], [1, 'ready', 'nginx:2', 2]);
  assert.deepEqual(p.update.map((t) => [t.ID, t.DesiredState]), [['t1', 'shutdown']]);
  // old still running on a live node: wait
  assert.equal(w.step().update.length, 0);
  w.setState('t1', 'shutdown');
  const p2 = w.step();
  assert.deepEqual(p2.update.map((t) => [t.ID, t.DesiredState]), [[nt.ID, 'running']]);
});

test('stop-first: the new task starts at once when the old one is on a Down node', () => {
  const w = new World(mkService({ replicas: 1 })).seed();
  w.nodes.set('n1', mkNode('n1', 'down'));
  img(w, 'nginx:2');
  const p = w.step();
  assert.deepEqual(p.create.map((t) => [t.ID, t.DesiredState]), [['t2', 'running']]);
});

test('parallelism 2: two slots at a time; the third waits for a free worker', () => {
  const w = new World(mkService({ replicas: 3, update: { Parallelism: 2 } })).seed();
  img(w, 'nginx:2');
  const p = w.step();
  assert.deepEqual(p.create.map((t) => t.Slot), [1, 2]);
  w.agent(); // old tasks stop
  w.step(); // new ones started
  assert.equal(w.step().create.length, 0, 'both workers busy until a replacement runs');
  w.agent(); // new ones run
  assert.deepEqual(w.step().create.map((t) => t.Slot), [3]);
});

test('delay: the next slot waits Delay after the previous replacement is running', () => {
  const w = new World(mkService({ replicas: 2, update: { Delay: 10 * SEC } })).seed();
  img(w, 'nginx:2');
  w.step();
  w.agent();
  w.step();
  w.agent(); // t3 running
  const p = w.step();
  assert.equal(p.create.length, 0);
  assert.equal(p.wakeAt, w.now + 10_000);
  w.now += 9_999;
  assert.equal(w.step().create.length, 0);
  w.now += 1;
  assert.deepEqual(w.step().create.map((t) => t.Slot), [2]);
});

test('monitor: completion waits one Monitor window after the last replacement; a failure inside it pauses', () => {
  const w = new World(mkService({ replicas: 1, update: { Monitor: 5 * SEC } })).seed();
  img(w, 'nginx:2');
  w.run({ until: (x) => x.tasks.get('t2')?.Status.State === 'running' });
  const p = w.step();
  assert.equal(w.service.UpdateStatus?.State, 'updating');
  assert.equal(p.wakeAt, w.now + 5000);
  w.now += 4000;
  w.setState('t2', 'failed');
  w.step();
  assert.equal(w.service.UpdateStatus?.State, 'paused');
  assert.equal(w.service.UpdateStatus?.Message, 'update paused due to failure or early termination of task t2');
});

test('monitor: a failure after the window does not count; the update completes', () => {
  const w = new World(mkService({ replicas: 1, update: { Monitor: 5 * SEC } })).seed();
  img(w, 'nginx:2');
  w.run({ until: (x) => x.tasks.get('t2')?.Status.State === 'running' });
  w.step();
  w.now += 5000;
  w.step();
  assert.equal(w.service.UpdateStatus?.State, 'completed');
  assert.equal(w.service.UpdateStatus?.CompletedAt, isoTime(w.now));
  assert.equal(w.service.UpdateStatus?.Message, 'update completed');
  w.now += 1000;
  w.setState('t2', 'failed');
  w.step();
  assert.equal(w.service.UpdateStatus?.State, 'completed');
});

test('health: a replacement counts as running only once healthy', () => {
  const w = new World(mkService({ replicas: 2 })).seed();
  w.health = 'starting';
  img(w, 'nginx:2');
  w.step();
  w.agent();
  w.step();
  w.agent(); // t3 running, health starting
  assert.equal(w.step().create.length, 0);
  w.put({ ...w.task('t3'), internal: { ...w.task('t3').internal, health: 'healthy' } });
  assert.deepEqual(w.step().create.map((t) => t.Slot), [2]);
});

// ---- start-first

test('start-first: new task RUNNING first (N+1), old one shut down once the new runs', () => {
  const w = new World(mkService({ replicas: 1, update: { Order: 'start-first' } })).seed();
  img(w, 'nginx:2');
  const p = w.step();
  assert.deepEqual(p.create.map((t) => t.DesiredState), ['running']);
  assert.equal(p.update.length, 0);
  assert.equal(runnable(w).length, 2);
  w.agent();
  const p2 = w.step();
  assert.deepEqual(p2.update.map((t) => [t.ID, t.DesiredState]), [['t1', 'shutdown']]);
});

// ---- supersede, restarts, leader change

test('a new spec during an update supersedes it: new StartedAt, in-flight replacements replaced', () => {
  const w = new World(mkService({ replicas: 3, update: { Delay: 30 * SEC } })).seed();
  img(w, 'nginx:2');
  w.run({ until: (x) => x.tasks.get('t4')?.Status.State === 'running' });
  w.now += 1000;
  img(w, 'nginx:3');
  const p = w.step();
  assert.equal(p.service?.UpdateStatus?.State, 'updating');
  assert.equal(p.service?.UpdateStatus?.StartedAt, isoTime(w.now));
  assert.deepEqual(p.create.map((t) => [t.Slot, t.Spec.ContainerSpec?.Image]), [[1, 'nginx:3']]);
  w.run();
  assert.equal(w.service.UpdateStatus?.State, 'completed');
  assert.ok(w.summary().every((l) => l.includes('nginx:3:running/running')), w.summary().join(','));
});

test('leader change: a waiting READY replacement is adopted and started; the update continues', () => {
  const w = new World(mkService({ replicas: 2 })).seed();
  img(w, 'nginx:2');
  w.step();
  w.memo = undefined; // the new leader knows nothing
  w.setState('t1', 'shutdown');
  const p = w.step();
  assert.ok(p.events.includes('adopt t3'));
  assert.deepEqual(p.update.map((t) => [t.ID, t.DesiredState]), [['t3', 'running']]);
  w.run();
  assert.equal(w.service.UpdateStatus?.State, 'completed');
});

test('a delayed restart (restart supervisor, READY + delayedStart) is neither adopted nor started', () => {
  const w = new World(mkService({ replicas: 1 })).seed();
  img(w, 'nginx:2');
  w.put({ ...w.task('t1'), DesiredState: 'shutdown', Status: w.status('failed') });
  const r = newTask({ id: 'r', service: w.service, slot: 1, now: w.now, desiredState: 'ready' });
  r.internal.delayedStart = { notBefore: w.now + 5000 };
  w.put(r);
  const p = w.step();
  assert.equal(p.events.length, 0);
  assert.equal(p.service, undefined);
});

test('restart supervisor replacement of a dirty slot while paused: left alone', () => {
  const w = new World(mkService({ replicas: 2 })).seed();
  w.failImages.add('nginx:bad');
  img(w, 'nginx:bad');
  w.run({ restarts: true, maxSteps: 10 });
  assert.equal(w.service.UpdateStatus?.State, 'paused');
  assert.equal(w.summary().filter((l) => l.includes('nginx:1')).length, 1, 'slot 2 still runs the old image');
});

test('global service: slot = node; replacements pinned to the same node', () => {
  const w = new World(mkService({ global: true }), 2).seed();
  img(w, 'nginx:2');
  const p = w.step();
  assert.deepEqual(p.create.map((t) => [t.NodeID, t.Slot]), [['n1', undefined]]);
  w.run();
  assert.deepEqual(w.summary(), ['n1:nginx:2:running/running', 'n2:nginx:2:running/running']);
});

test('service of a job mode is left alone', () => {
  const s = mkService({});
  s.Spec.Mode = { ReplicatedJob: { TotalCompletions: 1 } };
  const w = new World(s).seed();
  img(w, 'x');
  const p = w.step();
  assert.deepEqual([p.service, p.create.length, p.update.length], [undefined, 0, 0]);
});
