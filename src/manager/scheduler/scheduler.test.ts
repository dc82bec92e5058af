import { test } from 'node:test';
import assert from 'node:assert/strict';
import { immediateStore } from '../../store/testing/immediate';
import type { Clock } from '../../lib/ports';
import type { Node, Task } from '../../types';
import { Scheduler } from './index';
import { MAX_PLACEMENTS_PER_PASS, placementWrites } from './scheduler';
import { waitFor } from '../../testing/wait';

const clock: Clock = { now: () => Date.now() };
const node = (id: string, availability: Node['Spec']['Availability'] = 'active'): Node => ({
  ID: id,
  Version: { Index: 0 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Role: 'worker', Availability: availability, Labels: {} },
  Description: { Hostname: id, Platform: { OS: 'linux', Architecture: 'x86_64' }, Resources: { NanoCPUs: 1e9, MemoryBytes: 1e9 }, Engine: { EngineVersion: '27' } },
  Status: { State: 'ready', Addr: '10.0.0.1' },
});
const pending = (id: string, slot: number): Task => ({
  ID: id,
  Version: { Index: 0 },
  CreatedAt: '',
  UpdatedAt: '',
  Labels: {},
  Spec: { ContainerSpec: { Image: 'x' } },
  ServiceID: 's',
  Slot: slot,
  Status: { Timestamp: '', State: 'pending', Message: 'pending task scheduling' },
  DesiredState: 'running',
  internal: { specVersion: 1, serviceName: 's' },
});

test('Scheduler: explains, then places pending tasks once a node becomes available; spreads them', async () => {
  const store = immediateStore();
  await store.update((tx) => {
    tx.create('node', node('A', 'drain'));
    tx.create('task', pending('t1', 1));
    tx.create('task', pending('t2', 2));
  });
  let writes = 0;
  const w = store.watch({ kinds: ['task'] });
  const sched = new Scheduler({ store, clock });
  sched.start();
  try {
    await waitFor('explained', () => store.view((tx) => tx.find('task')).every((t) => t.Status.Err === 'no suitable node (1 node not available for new tasks)'), 3000);
    writes = w.drain().length;
    assert.equal(writes, 2);
    await store.update((tx) => {
      tx.create('node', node('B'));
      tx.create('node', node('C'));
    });
    await waitFor('assigned', () => store.view((tx) => tx.find('task')).every((t) => t.Status.State === 'assigned'), 3000);
    const ts = store.view((tx) => tx.find('task'));
    assert.deepEqual(ts.map((t) => t.NodeID).sort(), ['B', 'C']);
    assert.ok(ts.every((t) => t.Status.Message === 'scheduler assigned task to node' && t.Status.Err === undefined));
  } finally {
    w.close();
    await sched.stop();
  }
});

test('placementWrites: a node’s tasks together, writes of at most MAX_PLACEMENTS_PER_PASS, the unplaced last', () => {
  const assigned = (id: string, nodeId: string): Task => ({ ...pending(id, 0), NodeID: nodeId, Status: { Timestamp: '', State: 'assigned', Message: '' } });
  const updates: Task[] = [];
  for (let i = 0; i < 3 * MAX_PLACEMENTS_PER_PASS; i++) updates.push(i % 7 === 0 ? pending(`u${i}`, 0) : assigned(`t${i}`, `n${i % 5}`));
  const writes = placementWrites(updates);
  assert.equal(writes.length, 3);
  assert.ok(writes.every((w) => w.length <= MAX_PLACEMENTS_PER_PASS));
  const flat = writes.flat();
  assert.deepEqual(flat.map((t) => t.ID).sort(), updates.map((t) => t.ID).sort());
  // each node's tasks form one run, in the plan's order; the unplaced come after all of them
  const runs = flat.map((t) => (t.Status.State === 'assigned' ? t.NodeID : '-')).filter((k, i, a) => i === 0 || a[i - 1] !== k);
  assert.deepEqual(runs, ['n1', 'n2', 'n3', 'n4', 'n0', '-']);
  for (const n of ['n0', 'n3']) {
    const mine = flat.filter((t) => t.NodeID === n).map((t) => t.ID);
    assert.deepEqual(mine, updates.filter((t) => t.NodeID === n).map((t) => t.ID));
  }
});

test('Scheduler: a large backlog reaches each node in one write (one assignment message), not one task a write', async () => {
  const nodes = 50;
  const tasks = 2000; // 4 writes; planned 500 at a time, every node was in every write
  const store = immediateStore();
  await store.update((tx) => {
    for (let i = 0; i < nodes; i++) tx.create('node', node(`N${String(i).padStart(2, '0')}`));
    for (let i = 1; i <= tasks; i++) tx.create('task', pending(`t${i}`, i));
  });
  const w = store.watch({ kinds: ['task'] });
  const sched = new Scheduler({ store, clock });
  sched.start();
  try {
    await waitFor('all assigned', () => store.view((tx) => tx.find('task')).every((t) => t.Status.State === 'assigned'), 10_000);
    const writesOfNode = new Map<string, Set<number>>();
    for (const e of w.drain()) {
      const t = e.object as Task;
      if (!t.NodeID) continue;
      let s = writesOfNode.get(t.NodeID);
      if (!s) writesOfNode.set(t.NodeID, (s = new Set()));
      s.add(e.index);
    }
    const writes = new Set([...writesOfNode.values()].flatMap((s) => [...s]));
    assert.equal(writes.size, tasks / MAX_PLACEMENTS_PER_PASS);
    // a node's share is split only where a write ends: at most one node per boundary is in two writes
    const pairs = [...writesOfNode.values()].reduce((n, s) => n + s.size, 0);
    assert.ok(pairs <= nodes + writes.size - 1, `${pairs} (node, write) pairs`);
    // and the spread is the same as placing them one by one: 40 a node
    assert.ok([...writesOfNode.keys()].every((n) => store.view((tx) => tx.tasksByNode(n)).length === tasks / nodes));
  } finally {
    w.close();
    await sched.stop();
  }
});

test('Scheduler: a task written by someone else between the plan and its write keeps that write', async () => {
  let victim: string | undefined;
  const store = immediateStore({
    afterAppend: (s) => {
      if (victim !== undefined) return;
      // after the scheduler's first write of its plan: a task still pending is in a later write of it
      const still = s.view((tx) => tx.find('task', (t) => t.Status.State === 'pending'));
      if (still.length === 0 || still.length === 1200) return;
      victim = still[still.length - 1]!.ID;
      void s.update((tx) => {
        const t = tx.get('task', victim!)!;
        tx.update('task', { ...t, DesiredState: 'shutdown' }); // as a scale-down marks it
      });
    },
  });
  await store.update((tx) => {
    for (const n of ['A', 'B', 'C']) tx.create('node', node(n));
    for (let i = 1; i <= 1200; i++) tx.create('task', pending(`t${i}`, i));
  });
  const sched = new Scheduler({ store, clock });
  sched.start();
  try {
    await waitFor('settled', () => store.view((tx) => tx.find('task')).every((t) => t.Status.State !== 'pending'), 10_000);
    assert.ok(victim, 'the hook ran between two writes of the plan');
    const v = store.view((tx) => tx.get('task', victim!))!;
    assert.equal(v.DesiredState, 'shutdown');
    assert.equal(v.Status.State, 'shutdown'); // the next pass shut it down instead of assigning it
    assert.equal(v.NodeID, undefined);
    assert.equal(store.view((tx) => tx.find('task', (t) => t.Status.State === 'assigned')).length, 1199);
  } finally {
    await sched.stop();
  }
});
