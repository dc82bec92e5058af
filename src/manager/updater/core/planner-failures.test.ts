// The update planner when replacements fail: failure actions and ratios, pauses, automatic and manual
// rollbacks, and which stopped tasks still hold their slot. The rest of its behaviour: planner.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newTask } from '../../../types';
import { isoTime } from '../../../lib/time';
import { SEC, World, img, mkService } from './testkit';

// ---- failures

test('failure action continue: failures are ignored', () => {
  const w = new World(mkService({ replicas: 2, update: { FailureAction: 'continue', Monitor: 0 } })).seed();
  w.failImages.add('nginx:bad');
  img(w, 'nginx:bad');
  w.run({ restarts: true, maxSteps: 30 });
  assert.equal(w.service.UpdateStatus?.State, 'completed');
});

test('max failure ratio: 1 failure of 4 slots is tolerated at 0.25, not at 0.2', () => {
  for (const [ratio, want] of [
    [0.25, 'updating'],
    [0.2, 'paused'],
  ] as const) {
    const w = new World(mkService({ replicas: 4, update: { MaxFailureRatio: ratio } })).seed();
    img(w, 'nginx:2');
    w.step();
    w.agent();
    w.step(); // t5 started
    w.setState('t5', 'failed');
    w.step();
    assert.equal(w.service.UpdateStatus?.State, want, `ratio ${ratio}`);
  }
});

test('a paused update stays paused; a new spec version resumes it as a new update', () => {
  const w = new World(mkService({ replicas: 3 })).seed();
  w.failImages.add('nginx:bad');
  img(w, 'nginx:bad');
  w.run({ restarts: true, maxSteps: 10 });
  assert.equal(w.service.UpdateStatus?.State, 'paused');
  const before = w.tasks.size;
  w.now += 60_000;
  const p = w.step();
  assert.deepEqual([p.service, p.create.length], [undefined, 0]);
  assert.equal(w.tasks.size, before);
  // `docker service update --image nginx:3 web` (status left as it was by the control API)
  w.failImages.clear();
  img(w, 'nginx:3');
  const p2 = w.step();
  assert.equal(p2.service?.UpdateStatus?.State, 'updating');
  assert.equal(p2.service?.UpdateStatus?.StartedAt, isoTime(w.now));
  w.run();
  assert.equal(w.service.UpdateStatus?.State, 'completed');
  assert.ok(w.summary().every((l) => l.includes('nginx:3:running/running')), w.summary().join(','));
});

test('paused: a replacement already waiting is still started when its old task stops', () => {
  const w = new World(mkService({ replicas: 3, update: { Parallelism: 2, MaxFailureRatio: 0 } })).seed();
  img(w, 'nginx:2');
  w.step(); // t4 (slot 1), t5 (slot 2) READY; t1, t2 shutting down
  w.setState('t1', 'shutdown');
  w.step(); // t4 started
  w.setState('t4', 'failed');
  w.step();
  assert.equal(w.service.UpdateStatus?.State, 'paused');
  w.setState('t2', 'shutdown');
  const p = w.step();
  assert.deepEqual(p.update.map((t) => [t.ID, t.DesiredState]), [['t5', 'running']]);
});

test('failure with FailureAction rollback and no PreviousSpec pauses', () => {
  const w = new World(mkService({ replicas: 1, update: { FailureAction: 'rollback' } })).seed();
  img(w, 'nginx:2');
  delete w.service.PreviousSpec;
  w.step();
  w.agent();
  w.step();
  w.setState('t2', 'failed');
  w.step();
  assert.equal(w.service.UpdateStatus?.State, 'paused');
});

test('automatic rollback: Spec ← PreviousSpec, PreviousSpec cleared, spec version forward, RollbackConfig used', () => {
  const w = new World(mkService({ replicas: 2, update: { FailureAction: 'rollback' }, rollback: { Parallelism: 0, Order: 'start-first', Monitor: 0 } })).seed();
  img(w, 'nginx:bad');
  w.step();
  w.agent();
  w.step();
  w.setState('t3', 'failed');
  const p = w.step();
  const s = p.service;
  assert.ok(s);
  assert.equal(s.Spec.TaskTemplate.ContainerSpec?.Image, 'nginx:1');
  assert.equal(s.PreviousSpec, undefined);
  assert.equal(s.internal.specVersion, 3);
  assert.equal(s.internal.previousSpecVersion, undefined);
  assert.deepEqual(s.UpdateStatus, { State: 'rollback_started', StartedAt: isoTime(w.now), Message: 'update rolled back due to failure or early termination of task t3' });
  // slot 1 now holds a task of the failed spec: rolled back with start-first (RollbackConfig)
  w.put({ ...w.task('t3'), DesiredState: 'shutdown' });
  w.put({ ...newTask({ id: 'r1', service: w.service, slot: 1, now: w.now }), NodeID: 'n1', Status: w.status('running') });
  const p2 = w.step();
  assert.ok(p2.update.some((t) => t.ID === 't2' && t.internal.specVersion === 3), 'clean slot-2 task bumped');
  assert.equal(p2.create.length, 0);
  assert.equal(w.service.UpdateStatus?.State, 'rollback_completed');
  assert.equal(w.service.UpdateStatus?.Message, 'rollback completed');
});

test('a failing rollback pauses as rollback_paused ("rollback paused …" when its FailureAction is rollback)', () => {
  const w = new World(mkService({ replicas: 2, rollback: { FailureAction: 'rollback' } })).seed();
  img(w, 'nginx:2');
  w.run();
  w.failImages.add('nginx:1');
  w.manualRollback();
  w.run({ maxSteps: 10 });
  assert.equal(w.service.UpdateStatus?.State, 'rollback_paused');
  assert.match(w.service.UpdateStatus?.Message ?? '', /^rollback paused due to failure or early termination of task t\d+$/);
});

test('manual rollback: keeps the control API status, rolls back, ends rollback_completed', () => {
  const w = new World(mkService({ replicas: 3, rollback: { Parallelism: 2, Monitor: 1 * SEC } })).seed();
  img(w, 'nginx:2');
  w.run();
  assert.equal(w.service.UpdateStatus?.State, 'completed');
  w.now += 60_000;
  w.manualRollback();
  const started = w.service.UpdateStatus?.StartedAt;
  const p = w.step();
  assert.equal(p.service, undefined, 'the rollback_started status written by the control API is kept');
  assert.deepEqual(p.create.map((t) => [t.Slot, t.Spec.ContainerSpec?.Image]), [
    [1, 'nginx:1'],
    [2, 'nginx:1'],
  ]);
  w.run();
  assert.equal(w.service.UpdateStatus?.State, 'rollback_completed');
  assert.equal(w.service.UpdateStatus?.StartedAt, started);
  assert.equal(w.service.UpdateStatus?.Message, 'rollback completed');
  assert.ok(w.summary().every((l) => l.includes('nginx:1:running/running')));
});

test('manual rollback while paused rolls back', () => {
  const w = new World(mkService({ replicas: 2 })).seed();
  w.failImages.add('nginx:bad');
  img(w, 'nginx:bad');
  w.run({ maxSteps: 10 });
  assert.equal(w.service.UpdateStatus?.State, 'paused');
  w.manualRollback();
  w.run({ restarts: true });
  assert.equal(w.service.UpdateStatus?.State, 'rollback_completed');
  assert.ok(w.summary().every((l) => l.includes('nginx:1:running/running')), w.summary().join(','));
});

test('manual rollback while the failed slot awaits its restart: the slot is rolled back, the rollback is monitored', () => {
  const w = new World(mkService({ replicas: 3, rollback: { Monitor: 5 * SEC } })).seed();
  w.failImages.add('nginx:bad');
  img(w, 'nginx:bad');
  w.run({ maxSteps: 10 });
  assert.equal(w.service.UpdateStatus?.State, 'paused');
  // slot 1's failed task is still wanted running: the restart supervisor has not got to it yet
  const failed = [...w.tasks.values()].find((t) => t.Status.State === 'failed')!;
  assert.equal(failed.DesiredState, 'running');
  w.manualRollback();
  const p = w.step();
  assert.equal(p.service, undefined, 'still rollback_started: it did not complete at once');
  assert.deepEqual(p.create.map((t) => [t.Slot, t.Spec.ContainerSpec?.Image, t.DesiredState]), [[failed.Slot, 'nginx:1', 'running']]);
  // (slots 2 and 3 only get their spec version bumped: they run the rolled-back spec)
  assert.deepEqual(p.update.filter((t) => t.DesiredState !== 'running').map((t) => [t.ID, t.DesiredState]), [[failed.ID, 'shutdown']], 'so the restart supervisor leaves it');
  w.agent();
  w.step();
  assert.equal(w.service.UpdateStatus?.State, 'rollback_started', 'the monitor window runs');
  w.run();
  assert.equal(w.service.UpdateStatus?.State, 'rollback_completed');
  assert.deepEqual(w.summary(), ['1:nginx:1:running/running', '2:nginx:1:running/running', '3:nginx:1:running/running']);
});

test("a dirty delayed replacement rejected within its delay is its slot's task: a new spec replaces it", () => {
  const w = new World(mkService({ replicas: 1 })).seed();
  w.put({ ...w.task('t1'), DesiredState: 'shutdown', Status: w.status('failed') });
  const r = newTask({ id: 'r', service: w.service, slot: 1, now: w.now, desiredState: 'ready' });
  r.internal.delayedStart = { notBefore: w.now + 5000 };
  w.put({ ...r, Status: w.status('rejected') });
  img(w, 'nginx:2');
  const p = w.step();
  assert.deepEqual(p.create.map((t) => [t.Slot, t.Spec.ContainerSpec?.Image, t.DesiredState]), [[1, 'nginx:2', 'running']]);
  assert.deepEqual(p.update.map((t) => [t.ID, t.DesiredState]), [['r', 'shutdown']]);
});

test('a stopped task its restart policy does not restart holds no slot for the update', () => {
  const s = mkService({ replicas: 2 });
  s.Spec.TaskTemplate.RestartPolicy = { Condition: 'none' };
  const w = new World(s).seed();
  w.setState('t1', 'failed');
  img(w, 'nginx:2');
  const p = w.step();
  assert.deepEqual(p.create.map((t) => t.Slot), [2], 'slot 1 is left to the restart supervisor, which lets it end');
  w.run();
  assert.equal(w.service.UpdateStatus?.State, 'completed');
});
