import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reconcileGlobalJob, reconcileReplicatedJob } from './jobs';
import { planRestarts, promoteDelayed } from './restart';
import { idGen, mkNode, mkService, mkTask, T0 } from './testkit';
import type { Task } from '../../../types';
import type { Mutation } from './common';

const job = (total: number, max: number, iteration = 0) => mkService('j', { mode: { ReplicatedJob: { TotalCompletions: total, MaxConcurrent: max } }, jobIteration: iteration });
const created = (m: Mutation[]): Task[] => m.flatMap((x) => (x.op === 'create' ? [x.task] : []));
const updated = (m: Mutation[]): Task[] => m.flatMap((x) => (x.op === 'update' ? [x.task] : []));
const rjob = (s: ReturnType<typeof job>, tasks: Task[]) => reconcileReplicatedJob({ service: s, tasks, now: T0 + 1000, newId: idGen('n') });

test('replicated job: starts MaxConcurrent tasks in slots 0.., desired COMPLETE, of the current iteration', () => {
  const m = rjob(job(5, 2), []);
  const t = created(m);
  assert.deepEqual(t.map((x) => x.Slot), [0, 1]);
  assert.ok(t.every((x) => x.DesiredState === 'complete' && x.JobIteration?.Index === 0 && x.Status.State === 'pending'));
});

test('replicated job: a completed task frees room for the next slot; never more than MaxConcurrent active, never past TotalCompletions', () => {
  const s = job(5, 2);
  const done = (slot: number) => mkTask(s, { slot, state: 'complete', desired: 'complete', jobIteration: 0 });
  const live = (slot: number) => mkTask(s, { slot, state: 'running', desired: 'complete', jobIteration: 0 });
  assert.deepEqual(created(rjob(s, [done(0), live(1)])).map((x) => x.Slot), [2]);
  assert.deepEqual(created(rjob(s, [done(0), live(1), live(2)])), []);
  assert.deepEqual(created(rjob(s, [done(0), done(1), done(2), live(3)])).map((x) => x.Slot), [4]);
  assert.deepEqual(created(rjob(s, [done(0), done(1), done(2), done(3), live(4)])), []);
  assert.deepEqual(rjob(s, [0, 1, 2, 3, 4].map(done)), []);
});

test('replicated job: a failed task still holds its slot (the restart supervisor refills it), so a give-up policy is not bypassed', () => {
  const s = job(3, 3);
  const failed = mkTask(s, { slot: 0, state: 'failed', desired: 'complete', jobIteration: 0 });
  assert.deepEqual(created(rjob(s, [failed])).map((x) => x.Slot), [1, 2]);
  // restart policy gave up: shut down, no replacement; the slot stays used
  const given = { ...failed, DesiredState: 'shutdown' as const };
  const t1 = mkTask(s, { slot: 1, state: 'complete', desired: 'complete', jobIteration: 0 });
  const t2 = mkTask(s, { slot: 2, state: 'complete', desired: 'complete', jobIteration: 0 });
  assert.deepEqual(created(rjob(s, [given, t1, t2])), []);
});

test('replicated job: a new iteration retires the old one (live → remove, finished → shutdown) and starts afresh', () => {
  const s = job(2, 2, 1);
  const oldDone = mkTask(s, { id: 'a', slot: 0, state: 'complete', desired: 'complete', jobIteration: 0 });
  const oldLive = mkTask(s, { id: 'b', slot: 1, state: 'running', desired: 'complete', jobIteration: 0 });
  const m = rjob(s, [oldDone, oldLive]);
  assert.deepEqual(updated(m).map((t) => [t.ID, t.DesiredState]), [['a', 'shutdown'], ['b', 'remove']]);
  assert.deepEqual(created(m).map((t) => [t.Slot, t.JobIteration?.Index]), [[0, 1], [1, 1]]);
});

test('global job: one task per ready, active node that existed when the iteration started; none twice', () => {
  const s = mkService('g', { mode: { GlobalJob: {} } });
  const before = new Date(T0 - 1000).toISOString();
  const nodes = [
    mkNode('A', { createdAt: before }),
    mkNode('B', { createdAt: before, availability: 'drain' }),
    mkNode('C', { createdAt: new Date(T0 + 5000).toISOString() }),
    mkNode('D', { createdAt: before, state: 'down' }),
    mkNode('E', { createdAt: before }),
  ];
  const run = (tasks: Task[]) => reconcileGlobalJob({ service: s, tasks, nodes, now: T0 + 10_000, newId: idGen('g') });
  const t = created(run([]));
  assert.deepEqual(t.map((x) => x.NodeID), ['A', 'E']);
  assert.ok(t.every((x) => x.DesiredState === 'complete' && x.Slot === undefined && x.JobIteration?.Index === 0));
  const doneA = mkTask(s, { node: 'A', state: 'complete', desired: 'complete', jobIteration: 0 });
  const liveOnDrained = mkTask(s, { id: 'x', node: 'B', state: 'running', desired: 'complete', jobIteration: 0 });
  const m = run([doneA, liveOnDrained]);
  assert.deepEqual(created(m).map((x) => x.NodeID), ['E']);
  assert.deepEqual(updated(m).map((x) => [x.ID, x.DesiredState]), [['x', 'shutdown']]);
});

test('restart supervisor and jobs: a failed job task is replaced in its slot with the iteration, started as COMPLETE; a completed one is left alone', () => {
  const s = job(2, 2, 4);
  const nodes = new Map([['A', mkNode('A')]]);
  const failed = mkTask(s, { id: 'f', slot: 1, node: 'A', state: 'failed', desired: 'complete', jobIteration: 4 });
  const done = mkTask(s, { id: 'd', slot: 0, node: 'A', state: 'complete', desired: 'complete', jobIteration: 4 });
  const p = planRestarts({ service: s, tasks: [failed, done], nodes, history: new Map(), now: T0, newId: idGen('r') });
  assert.deepEqual(updated(p.mutations).map((t) => [t.ID, t.DesiredState]), [['f', 'shutdown']]);
  const [r] = created(p.mutations);
  assert.equal(r!.Slot, 1);
  assert.equal(r!.JobIteration?.Index, 4);
  assert.equal(r!.DesiredState, 'ready');
  const promoted = promoteDelayed([r!], new Map(), nodes, T0 + 60_000);
  assert.equal(updated(promoted.mutations)[0]!.DesiredState, 'complete');
  // default for jobs is on-failure: a clean exit is never restarted; a task of an older iteration is not the supervisor's
  const old = mkTask(s, { slot: 0, node: 'A', state: 'failed', desired: 'complete', jobIteration: 3 });
  assert.deepEqual(planRestarts({ service: s, tasks: [done, old], nodes, history: new Map(), now: T0, newId: idGen('r') }).mutations, []);
});

test('restart supervisor and jobs: restart condition none leaves the failed slot empty', () => {
  const s = mkService('j', { mode: { ReplicatedJob: { TotalCompletions: 1, MaxConcurrent: 1 } }, spec: { RestartPolicy: { Condition: 'none' } } });
  const failed = mkTask(s, { slot: 0, node: 'A', state: 'failed', desired: 'complete', jobIteration: 0 });
  const p = planRestarts({ service: s, tasks: [failed], nodes: new Map([['A', mkNode('A')]]), history: new Map(), now: T0, newId: idGen('r') });
  assert.deepEqual(created(p.mutations), []);
  assert.deepEqual(created(rjob(s, updated(p.mutations))), []);
});
