import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { reconcileReplicated, removeAllTasks, slotsToRemove, type SlotTasks } from './replicated';
import { reconcileGlobal } from './global';
import { idGen, mkNode, mkService, mkTask, T0 } from './testkit';
import type { Mutation } from './common';
import { isRunnable, type Task, type TaskState } from '../../../types';

const created = (ms: Mutation[]) => ms.filter((m): m is { op: 'create'; task: Task } => m.op === 'create').map((m) => m.task);
const updated = (ms: Mutation[]) => ms.filter((m): m is { op: 'update'; task: Task } => m.op === 'update').map((m) => m.task);
const nodes = (...ns: ReturnType<typeof mkNode>[]) => new Map(ns.map((n) => [n.ID, n]));

/** A map of slots to their tasks, as slotsToRemove reads a service's slots (in the map's order, not the slots'). */
function slotTasks(live: ReadonlyMap<number, readonly Task[]>): SlotTasks {
  let top = 0;
  for (const slot of live.keys()) top = Math.max(top, slot);
  return { top, each: (fn) => live.forEach((ts, slot) => fn(slot, ts)), at: (slot) => live.get(slot) };
}

test('replicated: scale up from zero fills slots 1..n with tasks from the current spec, PENDING (nothing to allocate)', () => {
  const s = mkService('s', { replicas: 3, version: 7 });
  const out = reconcileReplicated({ service: s, tasks: [], nodes: new Map(), now: T0, newId: idGen() });
  const ts = created(out);
  assert.deepEqual(ts.map((t) => t.Slot), [1, 2, 3]);
  assert.ok(ts.every((t) => t.Status.State === 'pending' && t.DesiredState === 'running' && t.internal.specVersion === 7 && !t.NodeID));
  assert.deepEqual(ts.map((t) => t.ID), ['n1', 'n2', 'n3']);
});

test('a new task starts NEW when it needs the allocator (a network, a published port), else PENDING for the scheduler', () => {
  const cases: [string, (s: ReturnType<typeof mkService>) => void, string][] = [
    ['no network, no port', () => undefined, 'pending'],
    ['on a network', (s) => (s.Spec.TaskTemplate.Networks = [{ Target: 'net1' }]), 'new'],
    ['a published port', (s) => (s.Spec.EndpointSpec = { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] }), 'new'],
  ];
  for (const [what, shape, state] of cases) {
    const s = mkService('s', { replicas: 1 });
    shape(s);
    const [t] = created(reconcileReplicated({ service: s, tasks: [], nodes: new Map(), now: T0, newId: idGen() }));
    assert.equal(t?.Status.State, state, what);
  }
});

test('replicated: fills only missing slots, keeps failed-but-wanted and out-of-date tasks', () => {
  const s = mkService('s', { replicas: 4, version: 2 });
  const tasks = [
    mkTask(s, { slot: 1, version: 1 }), // out of date: updater's business
    mkTask(s, { slot: 2, state: 'failed' }), // restart supervisor's business
    mkTask(s, { slot: 3, desired: 'shutdown', state: 'shutdown' }), // dead slot
  ];
  const out = reconcileReplicated({ service: s, tasks, nodes: new Map(), now: T0, newId: idGen() });
  assert.equal(updated(out).length, 0);
  assert.deepEqual(created(out).map((t) => t.Slot), [3, 4]);
});

test('replicated: each slot held counts once, however many runnable tasks hold it; free slots fill from 1 up (random task sets)', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          slot: fc.integer({ min: 1, max: 12 }),
          desired: fc.constantFrom<TaskState>('running', 'ready', 'shutdown', 'remove'),
          node: fc.constantFrom('A', 'B', 'C'),
          state: fc.constantFrom<TaskState>('running', 'starting'),
        }),
        { maxLength: 24 },
      ),
      fc.integer({ min: 0, max: 16 }),
      (picks, replicas) => {
        const s = mkService('s', { replicas });
        const tasks = picks.map((p, i) => mkTask(s, { id: `t${i}`, slot: p.slot, desired: p.desired, node: p.node, state: p.state }));
        const held = new Set(tasks.filter((t) => isRunnable(t.DesiredState)).map((t) => t.Slot));
        const out = reconcileReplicated({ service: s, tasks, nodes: nodes(mkNode('A'), mkNode('B'), mkNode('C')), now: T0, newId: idGen() });
        const free: number[] = [];
        for (let slot = 1; free.length < replicas - held.size; slot++) if (!held.has(slot)) free.push(slot);
        assert.deepEqual(created(out).map((t) => t.Slot), free);
        const removedSlots = new Set(updated(out).map((t) => t.Slot));
        assert.equal(removedSlots.size, Math.max(0, held.size - replicas));
        // a slot removed loses every runnable task that held it
        for (const slot of removedSlots) assert.equal(updated(out).filter((t) => t.Slot === slot).length, tasks.filter((t) => t.Slot === slot && isRunnable(t.DesiredState)).length);
        // and the slots removed are the scan's choice over the slots held
        const live = new Map<number, Task[]>();
        for (const t of tasks) if (isRunnable(t.DesiredState)) live.set(t.Slot!, [...(live.get(t.Slot!) ?? []), t]);
        assert.deepEqual([...removedSlots].sort((a, b) => a! - b!), slotsToRemoveByScan(live, Math.max(0, held.size - replicas)).sort((a, b) => a - b));
      },
    ),
    { numRuns: 300 },
  );
});

test('replicated: scale down removes slots not running first, then most loaded nodes, then highest slot', () => {
  const s = mkService('s', { replicas: 2 });
  const tasks = [
    mkTask(s, { id: 'a', slot: 1, node: 'A' }),
    mkTask(s, { id: 'b', slot: 2, node: 'B' }),
    mkTask(s, { id: 'c', slot: 3, node: 'A' }),
    mkTask(s, { id: 'd', slot: 4, node: 'C', state: 'preparing' }),
    mkTask(s, { id: 'e', slot: 5, node: 'C' }),
  ];
  const out = reconcileReplicated({ service: s, tasks, nodes: nodes(mkNode('A'), mkNode('B'), mkNode('C')), now: T0 + 5, newId: idGen() });
  assert.equal(created(out).length, 0);
  const removed = updated(out);
  assert.ok(removed.every((t) => t.DesiredState === 'remove'));
  // d (not running) first; then A has 2 → c (slot 3 > 1); then loads A1 B1 C1 → highest slot 5
  assert.deepEqual(removed.map((t) => t.ID).sort(), ['c', 'd', 'e']);
});

test('replicated: all running, even spread, scale 5→3 keeps slots 1..3', () => {
  const s = mkService('s', { replicas: 3 });
  const tasks = [1, 2, 3, 4, 5].map((i) => mkTask(s, { id: `x${i}`, slot: i, node: 'ABCAB'[i - 1]! }));
  const live = new Map(tasks.map((t) => [t.Slot!, [t]]));
  assert.deepEqual(slotsToRemove(slotTasks(live), 2).sort(), [4, 5]);
});

test('deleted service: every task gets DesiredState remove', () => {
  const s = mkService('s');
  const tasks = [mkTask(s, { slot: 1 }), mkTask(s, { slot: 1, desired: 'shutdown', state: 'failed' }), mkTask(s, { slot: 2, desired: 'remove' })];
  const out = removeAllTasks(tasks, T0);
  assert.equal(out.length, 2);
  assert.ok(updated(out).every((t) => t.DesiredState === 'remove'));
});

test('global: one task per ready, non-drained, matching node; new node gets a task', () => {
  const s = mkService('g', { global: true, spec: { Placement: { Constraints: ['node.labels.zone==EU'] } } });
  const ns = [
    mkNode('n1', { labels: { zone: 'eu' } }),
    mkNode('n2', { labels: { zone: 'eu' }, availability: 'drain' }),
    mkNode('n3', { labels: { zone: 'us' } }),
    mkNode('n4', { labels: { zone: 'eu' }, state: 'down' }),
    mkNode('n5', { labels: { zone: 'eu' }, availability: 'pause' }),
    mkNode('n6', { labels: { zone: 'eu' } }),
  ];
  const tasks = [mkTask(s, { id: 'on1', node: 'n1' }), mkTask(s, { id: 'on2', node: 'n2' }), mkTask(s, { id: 'on3', node: 'n3' }), mkTask(s, { id: 'on4', node: 'n4' }), mkTask(s, { id: 'on5', node: 'n5' }), mkTask(s, { id: 'gone', node: 'n9' })];
  const out = reconcileGlobal({ service: s, tasks, nodes: ns, now: T0, newId: idGen() });
  assert.deepEqual(created(out).map((t) => [t.NodeID, t.Slot, t.Status.State]), [['n6', undefined, 'pending']]);
  assert.deepEqual(
    updated(out).map((t) => [t.ID, t.DesiredState]).sort(),
    [['gone', 'shutdown'], ['on2', 'shutdown'], ['on3', 'shutdown'], ['on4', 'shutdown']],
  );
});

test('global: a failed task still wanted keeps its node covered (restart supervisor replaces it)', () => {
  const s = mkService('g', { global: true });
  const out = reconcileGlobal({ service: s, tasks: [mkTask(s, { node: 'n1', state: 'failed' })], nodes: [mkNode('n1')], now: T0, newId: idGen() });
  assert.deepEqual(out, []);
});

/** The greedy choice as first written (a scan of every slot per choice): the oracle of the heap version. */
function slotsToRemoveByScan(live: ReadonlyMap<number, readonly Task[]>, count: number): number[] {
  const load = new Map<string, number>();
  for (const ts of live.values()) for (const t of ts) if (t.NodeID) load.set(t.NodeID, (load.get(t.NodeID) ?? 0) + 1);
  const remaining = new Map(live);
  const out: number[] = [];
  while (out.length < count && remaining.size > 0) {
    let best: { slot: number; running: boolean; load: number } | null = null;
    for (const [slot, ts] of remaining) {
      const running = ts.some((t) => t.Status.State === 'running');
      const l = Math.max(0, ...ts.map((t) => (t.NodeID ? (load.get(t.NodeID) ?? 0) : 0)));
      if (!best || (best.running && !running) || (best.running === running && (l > best.load || (l === best.load && slot > best.slot)))) best = { slot, running, load: l };
    }
    out.push(best!.slot);
    for (const t of remaining.get(best!.slot) ?? []) if (t.NodeID) load.set(t.NodeID, (load.get(t.NodeID) ?? 1) - 1);
    remaining.delete(best!.slot);
  }
  return out;
}

test('slotsToRemove (heap) chooses exactly the slots, in the order, of a scan per choice', () => {
  const s = mkService('s');
  const slot = fc.record({ node: fc.constantFrom('A', 'B', 'C', 'D', ''), running: fc.boolean(), second: fc.option(fc.constantFrom('A', 'B'), { nil: undefined }) });
  fc.assert(
    fc.property(fc.array(slot, { maxLength: 40 }), fc.nat(45), (slots, count) => {
      const live = new Map<number, Task[]>();
      slots.forEach((x, i) => {
        const ts = [mkTask(s, { id: `t${i}`, slot: i + 1, node: x.node || undefined, state: x.running ? 'running' : 'starting' })];
        if (x.second) ts.push(mkTask(s, { id: `u${i}`, slot: i + 1, node: x.second, state: 'running' }));
        live.set(i + 1, ts);
      });
      assert.deepEqual(slotsToRemove(slotTasks(live), count), slotsToRemoveByScan(live, count));
    }),
    { seed: 15, numRuns: 300 },
  );
});

test('slotsToRemove to zero on few nodes (every choice changes a node that holds many slots) matches the scan', () => {
  const s = mkService('s');
  const live = new Map<number, Task[]>();
  for (let i = 1; i <= 2_000; i++) {
    const ts = [mkTask(s, { id: `t${i}`, slot: i, node: `n${(i * 7) % 4}`, state: i % 9 === 0 ? 'starting' : 'running' })];
    if (i % 97 === 0) ts.push(mkTask(s, { id: `u${i}`, slot: i, node: `n${(i + 1) % 4}`, state: 'running' }));
    live.set(i, ts);
  }
  assert.deepEqual(slotsToRemove(slotTasks(live), 2_000), slotsToRemoveByScan(live, 2_000));
});

test('slotsToRemove over 100,000 slots: the busiest nodes first, then the highest slots', () => {
  const s = mkService('s');
  const live = new Map<number, Task[]>();
  for (let i = 1; i <= 100_000; i++) live.set(i, [mkTask(s, { id: `t${i}`, slot: i, node: `n${i % 1000}` })]);
  // the choice itself: the busiest nodes first, then the highest slots
  const first = slotsToRemove(slotTasks(live), 500);
  assert.equal(new Set(first).size, 500);
  assert.deepEqual(first.slice(0, 3), [100_000, 99_999, 99_998]);
});
