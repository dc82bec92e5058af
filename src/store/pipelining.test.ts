// Store pipelining (MemoryStore.update with a proposer that can `append`): a write starts while the
// ones before it are in the log but not committed, reads them, and fails with them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from './store';
import { MAX_PENDING_WRITES } from './limits';
import type { Change } from './types';
import type { Task } from '../types';
import { nodeFixture, taskFixture } from '../testing/fixtures';

/**
 * A proposer whose log commits only when the test says (a fake Raft, in memory): `commitNext` applies
 * the oldest entry as a follower would (decoded copies), `failAll` loses every entry not committed.
 */
function loggedStore() {
  let next = 0;
  const log: { index: number; data: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  const store: MemoryStore = new MemoryStore(
    {
      propose: () => Promise.reject(new Error('this proposer pipelines')),
      append: (changes: Change[]) => {
        const index = ++next;
        let resolve!: () => void;
        let reject!: (e: Error) => void;
        const applied = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
        log.push({ index, data: JSON.stringify(changes), resolve, reject });
        return { index, applied };
      },
    },
    { freezeCommitted: true },
  );
  return {
    store,
    inLog: () => log.length,
    commitNext: () => {
      const e = log.shift()!;
      store.applyCommitted(e.index, JSON.parse(e.data) as Change[]);
      e.resolve();
    },
    failAll: () => {
      // as Raft after a lost leadership: the log index goes on from the last one handed out, entries are gone
      for (const e of log.splice(0)) e.reject(new Error('raft: lost leadership'));
    },
  };
}

const task = (id: string, service: string, slot: number, nodeId?: string): Task =>
  taskFixture({ ID: id, ServiceID: service, Slot: slot, NodeID: nodeId, Status: { Timestamp: '', State: 'pending', Message: '' }, internal: { specVersion: 1, serviceName: 's' } });
const ids = (ts: { ID: string }[]) => ts.map((t) => t.ID).sort();
const settled = () => new Promise((r) => setImmediate(r));

test('a write starts before the one before it commits, reads its writes, and commits after it', async () => {
  const { store, inLog, commitNext } = loggedStore();
  const first = store.update((tx) => {
    tx.create('node', nodeFixture({ ID: 'n1' }));
    tx.create('task', task('t1', 's1', 1, 'n1'));
  });
  const second = store.update((tx) => {
    // the first write is in the log, not committed: this transaction sees it, with its future version
    assert.equal(tx.get('node', 'n1')?.Version.Index, 1);
    assert.deepEqual(ids(tx.tasksByService('s1')), ['t1']);
    assert.deepEqual(ids(tx.shared.tasksByNode('n1')), ['t1']);
    assert.deepEqual(ids(tx.tasksBySlot('s1', 1)), ['t1']);
    assert.deepEqual(ids(tx.pendingTasks('s1')), ['t1'], 'created PENDING by the pending write');
    assert.deepEqual(ids(tx.find('node')), ['n1']);
    assert.throws(() => tx.create('task', task('t1', 's1', 1)), /already exists/);
    const t1 = tx.get('task', 't1')!;
    tx.update('task', { ...t1, NodeID: 'n2', Status: { ...t1.Status, State: 'assigned' } });
    tx.create('task', task('t2', 's1', 2, 'n1'));
    return 'planned on the pending write';
  });
  await settled();
  assert.equal(inLog(), 2, 'both writes are in the log before either commits');
  // readers outside write transactions see committed state only
  assert.equal(store.view((tx) => tx.get('node', 'n1')), undefined);
  assert.deepEqual(store.read((tx) => tx.tasksByService('s1')), []);
  let secondDone = false;
  void second.then(() => (secondDone = true));
  commitNext();
  await first;
  await settled();
  assert.equal(secondDone, false, 'the second write resolves only once it is committed');
  assert.deepEqual(store.read((tx) => ids(tx.tasksByNode('n1'))), ['t1']);
  // a third write sees the committed first write and the pending second one: t1 moved away from n1
  const third = store.update((tx) => ({ n1: ids(tx.tasksByNode('n1')), n2: ids(tx.tasksByNode('n2')), t1: tx.get('task', 't1')!.Version.Index, pending: ids(tx.pendingTasks('s1')) }));
  await settled();
  commitNext();
  assert.equal(await second, 'planned on the pending write');
  assert.deepEqual(await third, { n1: ['t2'], n2: ['t1'], t1: 2, pending: ['t2'] });
  assert.deepEqual(store.read((tx) => ({ n1: ids(tx.tasksByNode('n1')), n2: ids(tx.tasksByNode('n2')) })), { n1: ['t2'], n2: ['t1'] });
  assert.equal(store.read((tx) => tx.get('task', 't1'))!.Version.Index, 2, 'the version a pending write read is the one it committed with');
});

test('a transaction without changes resolves once the pending writes it read are committed, and fails with them', async () => {
  const { store, commitNext, failAll } = loggedStore();
  void store.update((tx) => tx.create('node', nodeFixture({ ID: 'n1' }))).catch(() => undefined);
  let seen: string | undefined;
  const reading = store.update((tx) => (seen = tx.get('node', 'n1')?.ID));
  await settled();
  assert.equal(seen, 'n1');
  let done = false;
  void reading.then(() => (done = true));
  await settled();
  assert.equal(done, false);
  commitNext();
  assert.equal(await reading, 'n1');

  void store.update((tx) => tx.create('node', nodeFixture({ ID: 'n2' }))).catch(() => undefined);
  const readingLost = store.update((tx) => tx.get('node', 'n2')?.ID);
  await settled();
  failAll();
  await assert.rejects(readingLost, /lost leadership/, 'what it read was never committed');
});

test('when a pending write fails, the writes built on it fail too and later writes read committed state only', async () => {
  const { store, commitNext, failAll } = loggedStore();
  await Promise.all([store.update((tx) => tx.create('task', task('t0', 's1', 1, 'n1'))), (async () => (await settled(), commitNext()))()]);
  const lost1 = store.update((tx) => {
    tx.delete('task', 't0');
    tx.create('task', task('t1', 's1', 2, 'n1'));
  });
  const lost2 = store.update((tx) => {
    assert.deepEqual(ids(tx.tasksByService('s1')), ['t1']);
    tx.create('task', task('t2', 's1', 3, 'n1'));
  });
  await settled();
  failAll();
  await assert.rejects(lost1, /lost leadership/);
  await assert.rejects(lost2, /lost leadership/);
  const after = store.update((tx) => ({ service: ids(tx.tasksByService('s1')), slot2: ids(tx.tasksBySlot('s1', 2)), t0: tx.get('task', 't0')?.ID }));
  assert.deepEqual(await after, { service: ['t0'], slot2: [], t0: 't0' });
});

test('a write that throws proposes nothing and the next write still runs', async () => {
  const { store, inLog, commitNext } = loggedStore();
  const bad = store.update(() => {
    throw new Error('boom');
  });
  const good = store.update((tx) => tx.create('node', nodeFixture({ ID: 'n1' })));
  await assert.rejects(bad, /boom/);
  await settled();
  assert.equal(inLog(), 1);
  commitNext();
  await good;
  assert.equal(store.read((tx) => tx.get('node', 'n1'))?.Version.Index, 1);
});

test('at most MAX_PENDING_WRITES writes are in the log uncommitted; the next one waits for the oldest', async () => {
  const { store, inLog, commitNext } = loggedStore();
  const writes = Array.from({ length: MAX_PENDING_WRITES + 2 }, (_, i) => store.update((tx) => tx.create('node', nodeFixture({ ID: `n${i}` }))));
  await settled();
  assert.equal(inLog(), MAX_PENDING_WRITES);
  commitNext();
  await settled();
  assert.equal(inLog(), MAX_PENDING_WRITES, 'one committed, one more went in');
  for (let i = 0; i < MAX_PENDING_WRITES + 1; i++) {
    commitNext();
    await settled();
  }
  await Promise.all(writes);
  assert.equal(store.read((tx) => tx.find('node')).length, MAX_PENDING_WRITES + 2);
});

test('index reads through pending writes and the transaction own writes agree with a scan (random writes, oracle)', async () => {
  const { SeededRng } = await import('../lib/ports');
  for (let seed = 1; seed <= 30; seed++) {
    const rng = new SeededRng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;
    const { store, commitNext, inLog } = loggedStore();
    const states = ['pending', 'assigned', 'running'] as const;
    const randomTask = (id: string): Task => ({ ...task(id, pick(['s1', 's2']), 1 + Math.floor(rng.next() * 3), pick(['n1', 'n2', undefined])), Status: { Timestamp: '', State: pick(states), Message: '' } });
    const ids0 = Array.from({ length: 12 }, (_, i) => `t${i}`);
    // one random change of a task in `tx`: create, move (service, slot, node, state) or delete
    const mutate = (tx: Parameters<Parameters<MemoryStore['update']>[0]>[0]) => {
      const id = pick(ids0);
      const cur = tx.get('task', id);
      if (!cur) tx.create('task', randomTask(id));
      else if (rng.next() < 0.2) tx.delete('task', id);
      else tx.update('task', { ...randomTask(id), Version: cur.Version });
    };
    const writes: Promise<void>[] = [];
    for (let w = 0; w < 8; w++) {
      writes.push(
        store.update((tx) => {
          for (let i = 0; i < 3; i++) mutate(tx);
        }),
      );
      await settled();
      if (rng.next() < 0.3 && inLog() > 0) commitNext();
    }
    const check = store.update((tx) => {
      for (let i = 0; i < 3; i++) mutate(tx);
      const all = tx.find('task');
      for (const sid of ['s1', 's2']) {
        assert.deepEqual(ids(tx.tasksByService(sid)), ids(all.filter((t) => t.ServiceID === sid)), `seed ${seed}: service ${sid}`);
        assert.deepEqual(ids(tx.shared.pendingTasks(sid)), ids(all.filter((t) => t.ServiceID === sid && t.Status.State === 'pending')), `seed ${seed}: pending of ${sid}`);
        for (const slot of [1, 2, 3]) assert.deepEqual(ids(tx.tasksBySlot(sid, slot)), ids(all.filter((t) => t.ServiceID === sid && t.Slot === slot)), `seed ${seed}: slot ${sid}/${slot}`);
      }
      for (const nid of ['n1', 'n2']) assert.deepEqual(ids(tx.shared.tasksByNode(nid)), ids(all.filter((t) => t.NodeID === nid)), `seed ${seed}: node ${nid}`);
    });
    let done = false;
    const all = Promise.all([...writes, check]).finally(() => (done = true));
    for (let i = 0; i < 100 && !done; i++) {
      await settled();
      while (inLog() > 0) commitNext();
    }
    await all;
  }
});
