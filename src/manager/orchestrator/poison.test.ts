// A poisoned log cannot brick a manager: specs the API would refuse, put straight into the store as
// an older version's log would replay them, are skipped (marked, logged once), never executed; the
// good services next to them converge; a huge but valid gap is closed in bounded passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type MemoryStore } from '../../store';
import { immediateStore } from '../../store/testing/immediate';
import { SeededRng, type Clock } from '../../lib/ports';
import type { Service, Task } from '../../types';
import { GlobalOrchestrator, ReplicatedOrchestrator } from './index';
import { MAX_TASKS_PER_PASS } from './loop';
import { MAX_TASKS_PER_WRITE } from '../../store';
import { mkNode, mkService } from './core/testkit';
import { reconcileReplicated } from './core/replicated';
import { Scheduler, MAX_PLACEMENTS_PER_PASS } from '../scheduler/scheduler';
import { Allocator } from '../allocator';
import { UpdateSupervisor } from '../updater/updater';
import { waitFor } from '../../testing/wait';

const clock: Clock = { now: () => Date.now() };
const tasksOf = (store: MemoryStore, sid: string): Task[] => store.view((tx) => tx.tasksByService(sid));
const serviceOf = (store: MemoryStore, sid: string): Service | undefined => store.view((tx) => tx.get('service', sid));

/** Services as an old log could hold them: each one something the API refuses today. */
function poisoned(): Service[] {
  const huge = mkService('huge', { replicas: 1e20 });
  const unsafe = mkService('unsafe', { replicas: 9007199254740993 });
  const str = mkService('str');
  (str.Spec.Mode.Replicated as { Replicas: unknown }).Replicas = '3';
  const args = mkService('args', { spec: { ContainerSpec: { Image: 'busybox', Args: 'sleep 1000' as unknown as string[] } } });
  const constraint = mkService('constraint', { spec: { ContainerSpec: { Image: 'busybox' }, Placement: { Constraints: ['node.labels.x===y'] } } });
  const globalBad = mkService('gbad', { global: true, spec: { ContainerSpec: { Image: 'busybox', Env: { A: 'b' } as unknown as string[] } } });
  return [huge, unsafe, str, args, constraint, globalBad];
}

test('poisoned specs in the store are marked and skipped; good services still converge; a restart does not re-mark', async () => {
  const store = immediateStore();
  await store.update((tx) => {
    tx.create('node', mkNode('n1'));
    for (const s of poisoned()) tx.create('service', s);
    tx.create('service', mkService('web', { replicas: 3 }));
    tx.create('service', mkService('g', { global: true }));
  });
  const warnings: { service?: string }[] = [];
  const logger = { warn: (o: object) => void warnings.push(o as { service?: string }) };
  const start = () => {
    const r = new ReplicatedOrchestrator({ store, clock, rng: new SeededRng(1), logger });
    const g = new GlobalOrchestrator({ store, clock, rng: new SeededRng(2), logger });
    r.start();
    g.start();
    return [r, g];
  };
  let loops = start();
  try {
    await waitFor('web has 3 tasks', () => tasksOf(store, 'web').length === 3);
    await waitFor('g has a task on n1', () => tasksOf(store, 'g').length === 1);
    const bad = poisoned().map((s) => s.ID);
    await waitFor('every bad service marked', () => bad.every((id) => serviceOf(store, id)?.UpdateStatus?.Message?.startsWith('invalid service spec, not executed: ')));
    for (const id of bad) assert.equal(tasksOf(store, id).length, 0, `${id} must not run`);
    assert.match(serviceOf(store, 'huge')!.UpdateStatus!.Message!, /Number of replicas must be at most 1000000/);
    assert.match(serviceOf(store, 'str')!.UpdateStatus!.Message!, /Number of replicas must be an integer/);
    assert.match(serviceOf(store, 'constraint')!.UpdateStatus!.Message!, /value '=y' is invalid/);
    assert.equal(serviceOf(store, 'huge')!.UpdateStatus!.State, 'paused');
    assert.deepEqual(warnings.map((w) => w.service).sort(), [...bad].sort(), 'one log line per bad service');
    // A new leader (or a restarted manager) reads the same store: nothing is written or logged again.
    for (const l of loops) await l.stop();
    const version = serviceOf(store, 'huge')!.Version.Index;
    loops = start();
    await store.update((tx) => {
      const w = tx.get('service', 'web')!;
      w.Spec.Mode = { Replicated: { Replicas: 4 } };
      w.internal.specVersion++;
      tx.update('service', w);
    });
    await waitFor('web scaled to 4', () => tasksOf(store, 'web').length === 4);
    for (const l of loops) await (l as ReplicatedOrchestrator).idle();
    assert.equal(serviceOf(store, 'huge')!.Version.Index, version);
    assert.equal(warnings.length, bad.length);
  } finally {
    for (const l of loops) await l.stop();
  }
});

test('reconcileReplicated creates and removes at most `limit` tasks per pass', () => {
  const svc = mkService('big', { replicas: 2000 });
  let n = 0;
  const created = reconcileReplicated({ service: svc, tasks: [], nodes: new Map(), now: 0, newId: () => `t${n++}`, limit: 500 });
  assert.equal(created.length, 500);
  const tasks = created.map((m) => (m.op === 'create' ? m.task : undefined)).filter((t): t is Task => !!t);
  const down = mkService('big', { replicas: 100 });
  const removed = reconcileReplicated({ service: down, tasks, nodes: new Map(), now: 0, newId: () => 'x', limit: 50 });
  assert.equal(removed.length, 50);
  assert.ok(removed.every((m) => m.op === 'update' && m.task.DesiredState === 'remove'));
});

test('a gap larger than one pass is closed over several passes in bounded writes, and the scheduler places it in batches', async () => {
  const store = immediateStore();
  await store.update((tx) => tx.create('node', mkNode('n1', { cpu: 1e12, mem: 1e15 })));
  const want = MAX_TASKS_PER_PASS + MAX_TASKS_PER_WRITE + 7;
  // Largest number of tasks created, and of tasks assigned, by one store transaction.
  const creates = new Map<number, number>();
  const assigns = new Map<number, number>();
  const bump = (m: Map<number, number>, i: number) => m.set(i, (m.get(i) ?? 0) + 1);
  const w = store.watch({ kinds: ['task'] });
  void (async () => {
    for (;;) {
      const r = await w.next();
      if (r.done) return;
      for (const e of [r.value, ...w.drain()]) {
        if (e.action === 'create') bump(creates, e.index);
        else if (e.action === 'update' && (e.object as Task).Status.State === 'assigned' && (e.old as Task | undefined)?.Status.State !== 'assigned') bump(assigns, e.index);
      }
    }
  })();
  const biggest = (m: Map<number, number>) => Math.max(0, ...m.values());
  const o = new ReplicatedOrchestrator({ store, clock, rng: new SeededRng(3) });
  const s = new Scheduler({ store, clock });
  const a = new Allocator({ store, clock });
  o.start();
  a.start();
  s.start();
  try {
    await store.update((tx) => tx.create('service', mkService('many', { replicas: want })));
    await waitFor('all tasks created', () => tasksOf(store, 'many').length === want, 30_000);
    await waitFor('all tasks assigned', () => tasksOf(store, 'many').every((t) => t.Status.State === 'assigned'), 30_000);
    assert.ok(creates.size >= Math.ceil(want / MAX_TASKS_PER_WRITE) && biggest(creates) <= MAX_TASKS_PER_WRITE, `one write created ${biggest(creates)}`);
    assert.ok(biggest(assigns) <= MAX_PLACEMENTS_PER_PASS, `one pass assigned ${biggest(assigns)}`);
  } finally {
    w.close();
    await o.stop();
    await a.stop();
    await s.stop();
  }
});

test('an invalid spec written over a running service is not rolled out by the update supervisor', async () => {
  const store = immediateStore();
  await store.update((tx) => {
    tx.create('node', mkNode('n1'));
    tx.create('service', mkService('web', { replicas: 2 }));
  });
  const o = new ReplicatedOrchestrator({ store, clock, rng: new SeededRng(4) });
  const u = new UpdateSupervisor({ store, clock, rng: new SeededRng(5) });
  o.start();
  u.start();
  try {
    await waitFor('web has 2 tasks', () => tasksOf(store, 'web').length === 2);
    const ids = tasksOf(store, 'web').map((t) => t.ID).sort();
    await store.update((tx) => {
      const w = tx.get('service', 'web')!;
      w.Spec.TaskTemplate.ContainerSpec = { Image: 'busybox', Args: 'sleep 1000' as unknown as string[] };
      w.internal.specVersion++;
      tx.update('service', w);
    });
    await waitFor('web marked', () => serviceOf(store, 'web')?.UpdateStatus?.Message?.includes('not executed'));
    await o.idle();
    await u.idle();
    assert.deepEqual(tasksOf(store, 'web').map((t) => t.ID).sort(), ids, 'no task replaced or added');
    assert.ok(tasksOf(store, 'web').every((t) => t.DesiredState === 'running'), 'the old tasks keep running');
  } finally {
    await o.stop();
    u.stop();
  }
});
