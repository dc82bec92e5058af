import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore, type WakeScheduler } from './store';
import type { Change } from './types';
import type { Node, Task } from '../types';
import { nodeFixture, taskFixture } from '../testing/fixtures';

function immediateStore(opts: { wakeReadersAfter?: WakeScheduler } = {}): { store: MemoryStore; proposed: Change[][] } {
  let i = 0;
  const proposed: Change[][] = [];
  const store: MemoryStore = new MemoryStore({
    propose: async (c) => {
      proposed.push(c);
      store.applyCommitted(++i, c);
    },
  }, { freezeCommitted: true, ...opts });
  return { store, proposed };
}

const node = (id: string): Node => nodeFixture({ ID: id });

const task = (id: string, service: string, nodeId?: string): Task =>
  taskFixture({ ID: id, ServiceID: service, Slot: 1, NodeID: nodeId, internal: { specVersion: 1, serviceName: 's' } });

test('a transaction reads its own writes and commits them atomically with the commit index as version', async () => {
  const { store, proposed } = immediateStore();
  await store.update((tx) => {
    tx.create('node', node('n1'));
    const n = tx.get('node', 'n1')!;
    n.Spec.Availability = 'drain';
    tx.update('node', n);
    assert.equal(tx.find('node').length, 1);
  });
  assert.equal(proposed.length, 1);
  assert.equal(proposed[0]!.length, 1, 'create then update collapse into one create');
  const n = store.view((tx) => tx.get('node', 'n1'))!;
  assert.equal(n.Spec.Availability, 'drain');
  assert.equal(n.Version.Index, 1);
});

test('objects handed out are copies: mutating them does not change the store', async () => {
  const { store } = immediateStore();
  await store.update((tx) => tx.create('node', node('n1')));
  const n = store.view((tx) => tx.get('node', 'n1'))!;
  n.Spec.Role = 'manager';
  assert.equal(store.view((tx) => tx.get('node', 'n1'))!.Spec.Role, 'worker');
});

test('a failing transaction proposes nothing; create of an existing ID is a conflict', async () => {
  const { store, proposed } = immediateStore();
  await store.update((tx) => tx.create('node', node('n1')));
  await assert.rejects(
    store.update((tx) => tx.create('node', node('n1'))),
    /already exists/,
  );
  await assert.rejects(
    store.update((tx) => {
      tx.create('node', node('n2'));
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(proposed.length, 1);
  assert.equal(store.view((tx) => tx.get('node', 'n2')), undefined);
});

test('task indexes by service and node follow updates and deletes', async () => {
  const { store } = immediateStore();
  await store.update((tx) => {
    tx.create('task', task('t1', 's1', 'n1'));
    tx.create('task', task('t2', 's1'));
    tx.create('task', task('t3', 's2', 'n1'));
  });
  assert.deepEqual(store.view((tx) => tx.tasksByService('s1').map((t) => t.ID).sort()), ['t1', 't2']);
  assert.deepEqual(store.view((tx) => tx.tasksByNode('n1').map((t) => t.ID).sort()), ['t1', 't3']);
  await store.update((tx) => {
    const t2 = tx.get('task', 't2')!;
    t2.NodeID = 'n1';
    tx.update('task', t2);
    tx.delete('task', 't3');
    // inside the transaction the indexes already reflect its writes
    assert.deepEqual(tx.tasksByNode('n1').map((t) => t.ID).sort(), ['t1', 't2']);
  });
  assert.deepEqual(store.view((tx) => tx.tasksByNode('n1').map((t) => t.ID).sort()), ['t1', 't2']);
  assert.deepEqual(store.view((tx) => tx.tasksByService('s2')), []);
});

test('the slot index: a replicated slot’s tasks (history included) follow creates, slot moves, deletes and restores', async () => {
  const { store } = immediateStore();
  const inSlot = (id: string, service: string, slot: number): Task => ({ ...task(id, service, 'n1'), Slot: slot });
  await store.update((tx) => {
    tx.create('task', inSlot('a1', 's1', 1));
    tx.create('task', inSlot('a2', 's1', 1)); // the slot's replacement: both are its tasks
    tx.create('task', inSlot('b1', 's1', 2));
    tx.create('task', inSlot('c1', 's2', 1)); // same slot number, another service
    tx.create('task', { ...task('g1', 's3', 'n1'), Slot: 0 }); // global: no slot
  });
  const ids = (ts: Task[]) => ts.map((t) => t.ID).sort();
  assert.deepEqual(store.read((tx) => ids(tx.tasksBySlot('s1', 1))), ['a1', 'a2']);
  assert.deepEqual(store.view((tx) => ids(tx.tasksBySlot('s1', 2))), ['b1']);
  assert.deepEqual(store.read((tx) => ids(tx.tasksBySlot('s2', 1))), ['c1']);
  assert.deepEqual(store.read((tx) => ids(tx.tasksBySlot('s3', 0))), []);
  await store.update((tx) => {
    tx.update('task', { ...tx.get('task', 'a2')!, Slot: 2 });
    tx.delete('task', 'b1');
    tx.create('task', inSlot('a3', 's1', 1));
    // inside the transaction: its own creates, moves and deletes
    assert.deepEqual(ids(tx.tasksBySlot('s1', 1)), ['a1', 'a3']);
    assert.deepEqual(ids(tx.tasksBySlot('s1', 2)), ['a2']);
    assert.deepEqual(ids(tx.tasksBySlot('s1', 1, (t) => t.ID !== 'a1')), ['a3']);
  });
  assert.deepEqual(store.read((tx) => ids(tx.tasksBySlot('s1', 1))), ['a1', 'a3']);
  assert.deepEqual(store.read((tx) => ids(tx.tasksBySlot('s1', 2))), ['a2']);
  const other = new MemoryStore({ propose: async () => undefined });
  other.restore(structuredClone(store.snapshot())); // as a snapshot arrives: encoded and decoded
  assert.deepEqual(other.read((tx) => ids(tx.tasksBySlot('s1', 1))), ['a1', 'a3']);
});

test('watchers see committed events in order with old values; closed watches see nothing', async () => {
  const { store } = immediateStore();
  const w = store.watch({ kinds: ['node'] });
  const other = store.watch();
  other.close();
  await store.update((tx) => tx.create('node', node('n1')));
  await store.update((tx) => {
    const n = tx.get('node', 'n1')!;
    n.Status.State = 'down';
    tx.update('node', n);
  });
  await store.update((tx) => tx.delete('node', 'n1'));
  await store.update((tx) => tx.create('task', task('t1', 's1')));
  const events = w.drain();
  assert.deepEqual(
    events.map((e) => [e.action, e.index]),
    [
      ['create', 1],
      ['update', 2],
      ['delete', 3],
    ],
  );
  assert.equal((events[1]!.old as Node).Status.State, 'ready');
  assert.deepEqual(other.drain(), []);
  w.close();
});

test('ready: true once an event is queued, which stays for drain; false once the watch closes', async () => {
  const { store } = immediateStore();
  const w = store.watch({ kinds: ['node'] });
  const waiting = w.ready();
  await store.update((tx) => tx.create('node', node('n1')));
  assert.equal(await waiting, true);
  assert.equal(await w.ready(), true, 'queued: at once');
  assert.deepEqual(w.drain().map((e) => e.action), ['create'], 'the event was not taken');
  const closing = w.ready();
  w.close();
  assert.equal(await closing, false);
  assert.equal(await w.ready(), false);
});

test('with setImmediate as its waker (the daemon\'s), a reader waiting on a watch reacts once the turn of the commit has run its microtasks, and gets every event in order', async () => {
  const { store } = immediateStore({ wakeReadersAfter: setImmediate });
  const w = store.watch({ kinds: ['node'] });
  const order: string[] = [];
  const reader = (async () => {
    for (let i = 0; i < 3; i++) {
      const r = await w.next();
      order.push(`reader ${r.value!.action} ${r.value!.index}`);
    }
  })();
  await store.update((tx) => tx.create('node', node('n1')));
  // an API handler's answer is a few more awaits away from the write (router, response)
  for (let i = 0; i < 5; i++) await Promise.resolve();
  order.push('writer answered');
  await store.update((tx) => {
    const n = tx.get('node', 'n1')!;
    n.Status.State = 'down';
    tx.update('node', n);
  });
  await store.update((tx) => tx.delete('node', 'n1'));
  order.push('writer done');
  await reader;
  // the three commits here never leave the microtask queue (no disk), so the reader wakes after all of them
  assert.deepEqual(order, ['writer answered', 'writer done', 'reader create 1', 'reader update 2', 'reader delete 3']);
  w.close();
});

test('a watch closed while its reader waits ends the reader; events offered before a close are not handed out after it', async () => {
  const { store } = immediateStore({ wakeReadersAfter: setImmediate });
  const w = store.watch({ kinds: ['node'] });
  const got = w.next();
  await store.update((tx) => tx.create('node', node('n1')));
  w.close();
  assert.deepEqual(await got, { value: undefined, done: true });
});

test('writes are serialized: concurrent updates each see the previous one', async () => {
  const { store } = immediateStore();
  await store.update((tx) => tx.create('node', node('n1')));
  const bump = () =>
    store.update((tx) => {
      const n = tx.get('node', 'n1')!;
      n.Spec.Labels = { count: String(Number(n.Spec.Labels?.count ?? 0) + 1) };
      tx.update('node', n);
    });
  await Promise.all(Array.from({ length: 20 }, bump));
  assert.equal(store.view((tx) => tx.get('node', 'n1'))!.Spec.Labels!.count, '20');
});

test('snapshot and restore round-trip the state and index', async () => {
  const { store } = immediateStore();
  await store.update((tx) => {
    tx.create('node', node('n1'));
    tx.create('task', task('t1', 's1', 'n1'));
  });
  const snap = structuredClone(store.snapshot());
  const { store: other } = immediateStore();
  other.restore(snap);
  assert.equal(other.index, 1);
  assert.deepEqual(other.view((tx) => tx.tasksByNode('n1').map((t) => t.ID)), ['t1']);
});

test('read hands out the committed objects themselves; a later commit replaces them, never changes them', async () => {
  const { store } = immediateStore();
  await store.update((tx) => {
    tx.create('node', node('n1'));
    tx.create('task', task('t1', 's1', 'n1'));
    tx.create('task', task('t2', 's1'));
  });
  const before = store.read((tx) => tx.get('task', 't1'))!;
  assert.equal(store.read((tx) => tx.get('task', 't1')), before, 'same object, not a copy');
  assert.deepEqual(store.read((tx) => tx.tasksByService('s1').map((t) => t.ID).sort()), ['t1', 't2']);
  assert.deepEqual(store.read((tx) => tx.tasksByNode('n1').map((t) => t.ID)), ['t1']);
  assert.deepEqual(store.read((tx) => tx.find('task', (t) => !t.NodeID).map((t) => t.ID)), ['t2']);
  assert.equal(store.read((tx) => tx.get('task', 'nope')), undefined);
  await store.update((tx) => {
    const t = tx.get('task', 't1')!;
    t.Status = { ...t.Status, State: 'running' };
    tx.update('task', t);
  });
  assert.equal(before.Status.State, 'new', 'the object read earlier is unchanged');
  assert.equal(store.read((tx) => tx.get('task', 't1'))!.Status.State, 'running');
  assert.deepEqual(store.view((tx) => tx.get('task', 't1')), store.read((tx) => tx.get('task', 't1')));
});

test('copies keep every member, including undefined ones and nested arrays', async () => {
  const { store } = immediateStore();
  const t = task('t1', 's1');
  t.Spec = { ContainerSpec: { Image: 'x', Command: ['a', 'b'], Env: [] } };
  await store.update((tx) => tx.create('task', t));
  const got = store.view((tx) => tx.get('task', 't1'))!;
  assert.ok('NodeID' in got && got.NodeID === undefined);
  assert.deepEqual(got.Spec, t.Spec);
  got.Spec.ContainerSpec!.Command!.push('c');
  assert.deepEqual(store.view((tx) => tx.get('task', 't1'))!.Spec.ContainerSpec!.Command, ['a', 'b']);
});

test('a watch keyed by node sees the task events of that node only, including a task leaving it', async () => {
  const { store } = immediateStore();
  const mine = store.watch({ nodeId: 'n1' });
  const other = store.watch({ nodeId: 'n2' });
  const all = store.watch({ kinds: ['task'] });
  await store.update((tx) => {
    tx.create('node', node('n1'));
    tx.create('task', task('t1', 's1', 'n1'));
    tx.create('task', task('t2', 's1', 'n2'));
    tx.create('task', task('t3', 's1'));
  });
  await store.update((tx) => tx.update('task', { ...tx.get('task', 't1')!, NodeID: 'n2' }));
  await store.update((tx) => tx.delete('task', 't2'));
  const seen = (w: typeof mine) => w.drain().map((e) => `${e.action} ${e.object.ID}`);
  assert.deepEqual(seen(mine), ['create t1', 'update t1']);
  assert.deepEqual(seen(other), ['create t2', 'update t1', 'delete t2']);
  assert.equal(seen(all).length, 5);
  mine.close();
  await store.update((tx) => tx.create('task', task('t4', 's1', 'n1')));
  assert.deepEqual(seen(mine), []);
  assert.deepEqual(seen(other), []);
});

test('tasksByService and tasksByNode copy only the tasks `where` picks, and see the transaction’s own writes', async () => {
  const { store } = immediateStore();
  await store.update((tx) => {
    tx.create('task', task('t1', 's1', 'n1'));
    tx.create('task', { ...task('t2', 's1', 'n1'), Status: { ...task('t2', 's1').Status, State: 'pending' } });
  });
  const pending = (t: Task) => t.Status.State === 'pending';
  assert.deepEqual(store.view((tx) => tx.tasksByService('s1', pending).map((t) => t.ID)), ['t2']);
  assert.deepEqual(store.read((tx) => tx.tasksByNode('n1', pending).map((t) => t.ID)), ['t2']);
  await store.update((tx) => {
    tx.create('task', { ...task('t3', 's1', 'n1'), Status: { ...task('t3', 's1').Status, State: 'pending' } });
    assert.deepEqual(tx.tasksByService('s1', pending).map((t) => t.ID).sort(), ['t2', 't3']);
    const copy = tx.tasksByService('s1', pending)[0]!;
    copy.Status.State = 'failed';
    assert.equal(tx.tasksByService('s1', pending).length, 2, 'what it hands out is a copy');
  });
});

test('a write transaction\'s shared reads hand out objects without copies, its own writes included; a changed copy goes back through update', async () => {
  const { store } = immediateStore();
  await store.update((tx) => {
    tx.create('node', node('n1'));
    tx.create('task', task('t1', 's1', 'n1'));
    tx.create('task', task('t2', 's1', 'n1'));
  });
  const committed = store.read((tx) => tx.get('task', 't1'))!;
  await store.update((tx) => {
    // the committed object itself, where `get` copies
    assert.equal(tx.shared.get('task', 't1'), committed);
    assert.notEqual(tx.get('task', 't1'), committed);
    assert.ok(tx.shared.tasksByService('s1').includes(committed));
    assert.equal(tx.shared.find('node')[0], store.read((r) => r.get('node', 'n1')));
    // the transaction's own writes are seen, by service, by node and by ID
    tx.create('task', task('t3', 's1', 'n1'));
    tx.update('task', { ...committed, DesiredState: 'shutdown' });
    tx.delete('task', 't2');
    assert.deepEqual(tx.shared.tasksByService('s1').map((t) => [t.ID, t.DesiredState]).sort(), [
      ['t1', 'shutdown'],
      ['t3', 'running'],
    ]);
    assert.deepEqual(tx.shared.tasksByNode('n1').map((t) => t.ID).sort(), ['t1', 't3']);
    assert.equal(tx.shared.get('task', 't2'), undefined);
  });
  // the object handed out earlier is a consistent old version: the commit replaced it
  assert.equal(committed.DesiredState, 'running');
  assert.equal(store.read((tx) => tx.get('task', 't1'))!.DesiredState, 'shutdown');
});

test('with freezeCommitted, changing a shared object throws and leaves the store as it was', async () => {
  const { store } = immediateStore();
  await store.update((tx) => tx.create('task', task('t1', 's1', 'n1')));
  await assert.rejects(
    store.update((tx) => {
      const t = tx.shared.get('task', 't1')!;
      t.Status.State = 'failed';
    }),
    TypeError,
  );
  assert.throws(() => {
    store.read((tx) => tx.get('task', 't1'))!.DesiredState = 'remove';
  }, TypeError);
  assert.equal(store.read((tx) => tx.get('task', 't1'))!.Status.State, 'new');
  // copies stay free to change
  const copy = store.view((tx) => tx.get('task', 't1'))!;
  copy.Status.State = 'failed';
  assert.equal(store.read((tx) => tx.get('task', 't1'))!.Status.State, 'new');
});

test('tasks of one service share one spec object, and a task\'s new version keeps its unchanged spec and attachments', async () => {
  const { store } = immediateStore();
  await store.update((tx) => {
    for (const id of ['t1', 't2', 't3']) tx.create('task', task(id, 's1', 'n1'));
    tx.create('task', task('u1', 's2', 'n1'));
  });
  const [t1, t2, t3, u1] = store.read((tx) => ['t1', 't2', 't3', 'u1'].map((id) => tx.get('task', id)!));
  assert.equal(t1!.Spec, t2!.Spec);
  assert.equal(t1!.Spec, t3!.Spec);
  // equal specs of another service are not mixed in (its template may change apart)
  assert.notEqual(t1!.Spec, u1!.Spec);
  await store.update((tx) => {
    const t = tx.get('task', 't1')!;
    tx.update('task', { ...t, Status: { ...t.Status, State: 'running' } });
    // another spec: its own object
    tx.create('task', { ...task('t4', 's1', 'n1'), Spec: { ContainerSpec: { Image: 'other' } } });
  });
  const [n1, t4] = store.read((tx) => [tx.get('task', 't1')!, tx.get('task', 't4')!]);
  assert.notEqual(n1, t1);
  assert.equal(n1.Spec, t1!.Spec);
  assert.equal(n1.Status.State, 'running');
  assert.equal(t4.Spec.ContainerSpec?.Image, 'other');
  // restored from a snapshot (decoded: every spec its own object), the tasks share again
  const { store: other } = immediateStore();
  other.restore(structuredClone(store.snapshot()));
  const [r1, r2, r4] = other.read((tx) => ['t1', 't2', 't4'].map((id) => tx.get('task', id)!));
  assert.equal(r1!.Spec, r2!.Spec);
  assert.notEqual(r1!.Spec, r4!.Spec);
  assert.deepEqual(r4!.Spec, t4.Spec);
});

test('a new version keeps the parts it shares with the version it replaces, and copies the others, once per transaction', async () => {
  const { store } = immediateStore();
  await store.update((tx) => tx.create('task', task('t1', 's1', 'n1')));
  const before = store.read((tx) => tx.get('task', 't1'))!;
  const status: Task['Status'] = { ...before.Status, State: 'running' };
  await store.update((tx) => {
    const t = tx.shared.get('task', 't1')!;
    tx.update('task', { ...t, Status: status });
  });
  const after = store.read((tx) => tx.get('task', 't1'))!;
  // unchanged parts are the old version's own objects, not copies of them
  assert.equal(after.Spec, before.Spec);
  assert.equal(after.internal, before.internal);
  // a changed part is the store's copy, not the object handed in
  assert.notEqual(after.Status, status);
  assert.equal(after.Status.State, 'running');
  status.State = 'failed';
  assert.equal(store.read((tx) => tx.get('task', 't1'))!.Status.State, 'running');
  // one template handed in for three new tasks: one copy of it among them, not the template itself
  const spec: Task['Spec'] = { ContainerSpec: { Image: 'busybox' } };
  await store.update((tx) => {
    for (const id of ['a', 'b', 'c']) tx.create('task', { ...task(id, 's2', 'n1'), Spec: spec });
    const made = ['a', 'b', 'c'].map((id) => tx.shared.get('task', id)!.Spec);
    assert.equal(made[0], made[1]);
    assert.equal(made[0], made[2]);
    assert.notEqual(made[0], spec);
  });
  spec.ContainerSpec!.Image = 'changed';
  assert.deepEqual(store.read((tx) => ['a', 'b', 'c'].map((id) => tx.get('task', id)!.Spec.ContainerSpec?.Image)), ['busybox', 'busybox', 'busybox']);
});

test('per-node task counts of a service follow creates, status and desired-state changes, moves, deletes and restores, as a pass over the tasks counts them', async () => {
  const { store } = immediateStore();
  let seed = 7;
  // the high bits of a linear congruential generator (its low bits repeat with short periods)
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), Math.floor((seed / 0x80000000) * n));
  const states = ['pending', 'assigned', 'running', 'complete', 'failed'] as const;
  const desired = ['running', 'complete', 'shutdown'] as const;
  const byScan = (tasks: Task[]) => {
    const out = new Map<string, { running: number; completed: number; desiredRunning: number; wanted: number }>();
    for (const t of tasks) {
      if (t.DesiredState !== 'running' && t.DesiredState !== 'complete') continue;
      const c = out.get(t.NodeID ?? '') ?? { running: 0, completed: 0, desiredRunning: 0, wanted: 0 };
      c.wanted++;
      if (t.Status.State === 'running') c.running++;
      if (t.Status.State === 'complete') c.completed++;
      if (t.DesiredState === 'running') c.desiredRunning++;
      out.set(t.NodeID ?? '', c);
    }
    return out;
  };
  const asObject = (m: ReadonlyMap<string, object>) => Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, { ...v }]));
  for (let round = 0; round < 60; round++) {
    await store.update((tx) => {
      for (let i = 0; i < 5; i++) {
        const id = `t${rnd(20)}`;
        const cur = tx.get('task', id);
        const op = rnd(4);
        if (!cur) {
          const t = task(id, `s${rnd(2)}`, rnd(3) === 0 ? undefined : `n${rnd(3)}`);
          tx.create('task', { ...t, DesiredState: desired[rnd(3)]!, Status: { ...t.Status, State: states[rnd(5)]! } });
        } else if (op === 0) tx.delete('task', id);
        else if (op === 1) tx.update('task', { ...cur, Status: { ...cur.Status, State: states[rnd(5)]! } });
        else if (op === 2) tx.update('task', { ...cur, DesiredState: desired[rnd(3)]! });
        else tx.update('task', { ...cur, NodeID: `n${rnd(3)}` });
      }
    });
    for (const sid of ['s0', 's1']) {
      assert.deepEqual(asObject(store.taskCountsByNode(sid)), asObject(byScan(store.read((tx) => tx.tasksByService(sid)))), `round ${round}, ${sid}`);
    }
  }
  const other = new MemoryStore({ propose: async () => undefined });
  other.restore(structuredClone(store.snapshot()));
  for (const sid of ['s0', 's1']) assert.deepEqual(asObject(other.taskCountsByNode(sid)), asObject(store.taskCountsByNode(sid)));
});

test('pendingTasks: the tasks of a service in state PENDING, inside a transaction (its own writes) and after commit', async () => {
  const { store } = immediateStore();
  const inState = (id: string, service: string, state: Task['Status']['State']): Task => ({ ...task(id, service), Status: { Timestamp: '', State: state, Message: '' } });
  await store.update((tx) => {
    tx.create('task', inState('a', 's1', 'pending'));
    tx.create('task', inState('b', 's1', 'pending'));
    tx.create('task', inState('c', 's1', 'running'));
    tx.create('task', inState('d', 's2', 'pending'));
  });
  const ids = (ts: Task[]) => ts.map((t) => t.ID).sort();
  assert.deepEqual(store.read((tx) => ids(tx.pendingTasks('s1'))), ['a', 'b']);
  await store.update((tx) => {
    tx.update('task', { ...tx.get('task', 'a')!, Status: { Timestamp: '', State: 'assigned', Message: '' } });
    tx.update('task', { ...tx.get('task', 'c')!, Status: { Timestamp: '', State: 'pending', Message: '' } });
    tx.create('task', inState('e', 's1', 'pending'));
    tx.delete('task', 'b');
    assert.deepEqual(ids(tx.shared.pendingTasks('s1')), ['c', 'e'], 'its own writes');
  });
  assert.deepEqual(store.read((tx) => ids(tx.pendingTasks('s1'))), ['c', 'e']);
  assert.deepEqual(store.view((tx) => ids(tx.pendingTasks('s2'))), ['d']);
  const other = new MemoryStore({ propose: async () => undefined });
  other.restore(structuredClone(store.snapshot()));
  assert.deepEqual(other.read((tx) => ids(tx.pendingTasks('s1'))), ['c', 'e']);
});

test('changeCount moves for the kinds a commit or a restore changed, and only for them', async () => {
  const { store } = immediateStore();
  const node0 = store.changeCount('node');
  const task0 = store.changeCount('task');
  await store.update((tx) => tx.create('node', node('n1')));
  assert.notEqual(store.changeCount('node'), node0);
  assert.equal(store.changeCount('task'), task0);
  const node1 = store.changeCount('node');
  await store.update((tx) => tx.create('task', task('t1', 's1', 'n1')));
  assert.equal(store.changeCount('node'), node1, 'a task commit leaves the node count');
  await store.update((tx) => tx.delete('node', 'n1'));
  assert.notEqual(store.changeCount('node'), node1);
  const node2 = store.changeCount('node');
  // a transaction without changes commits nothing
  await store.update((tx) => void tx.get('node', 'n1'));
  assert.equal(store.changeCount('node'), node2);
  store.restore(store.snapshot());
  assert.notEqual(store.changeCount('node'), node2);
});
