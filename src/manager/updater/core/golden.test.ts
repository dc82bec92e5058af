import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { assertGolden, sourceDirOf } from '../../../testing/golden';
import { SEC, World, mkService } from './testkit';

// Golden traces of whole rolling updates: each line is one planner pass (time since start, what it
// decided, the UpdateStatus it wrote). Regenerate with UPDATE_GOLDEN=1 after checking the diff.

const DIR = path.join(sourceDirOf(__dirname), 'testdata');

function golden(name: string, lines: string[]): void {
  assertGolden(path.join(DIR, `${name}.golden`), lines.join('\n') + '\n');
}

test('golden: 3 replicas, stop-first, parallelism 1, delay 10s, monitor 5s', () => {
  const w = new World(mkService({ replicas: 3, update: { Parallelism: 1, Delay: 10 * SEC, Monitor: 5 * SEC } })).seed();
  w.updateSpec((s) => (s.TaskTemplate.ContainerSpec = { Image: 'nginx:2' }));
  const trace = w.run();
  golden('stop-first-p1-delay', [...trace, ...w.summary()]);
  assert.equal(w.service.UpdateStatus?.State, 'completed');
});

test('golden: 4 replicas, start-first, parallelism 2', () => {
  const w = new World(mkService({ replicas: 4, update: { Parallelism: 2, Order: 'start-first', Monitor: 2 * SEC } })).seed();
  w.updateSpec((s) => (s.TaskTemplate.ContainerSpec = { Image: 'nginx:2' }));
  const trace = w.run();
  golden('start-first-p2', [...trace, ...w.summary()]);
  assert.equal(w.service.UpdateStatus?.State, 'completed');
});

test('golden: parallelism 0 replaces every slot at once', () => {
  const w = new World(mkService({ replicas: 3, update: { Parallelism: 0 } })).seed();
  w.updateSpec((s) => (s.TaskTemplate.ForceUpdate = 1));
  const trace = w.run();
  golden('parallelism-0-force', [...trace, ...w.summary()]);
  assert.equal(w.service.UpdateStatus?.State, 'completed');
});

test('golden: failing image pauses the update', () => {
  const w = new World(mkService({ replicas: 3 })).seed();
  w.failImages.add('nginx:bad');
  w.updateSpec((s) => (s.TaskTemplate.ContainerSpec = { Image: 'nginx:bad' }));
  const trace = w.run({ restarts: true, maxSteps: 20 });
  golden('failure-pause', [...trace, ...w.summary()]);
  assert.equal(w.service.UpdateStatus?.State, 'paused');
});

test('golden: failing image with FailureAction rollback rolls back', () => {
  const w = new World(mkService({ replicas: 3, update: { FailureAction: 'rollback' }, rollback: { Parallelism: 0, Monitor: 1 * SEC } })).seed();
  w.failImages.add('nginx:bad');
  w.updateSpec((s) => (s.TaskTemplate.ContainerSpec = { Image: 'nginx:bad' }));
  const trace = w.run({ restarts: true });
  golden('failure-rollback', [...trace, ...w.summary()]);
  assert.equal(w.service.UpdateStatus?.State, 'rollback_completed');
  assert.equal(w.service.Spec.TaskTemplate.ContainerSpec?.Image, 'nginx:1');
});

test('golden: global service, one task per node', () => {
  const w = new World(mkService({ global: true, update: { Monitor: 1 * SEC } }), 3).seed();
  w.updateSpec((s) => (s.TaskTemplate.ContainerSpec = { Image: 'nginx:2' }));
  const trace = w.run();
  golden('global', [...trace, ...w.summary()]);
  assert.equal(w.service.UpdateStatus?.State, 'completed');
});
