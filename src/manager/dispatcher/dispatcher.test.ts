import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { immediateStore } from '../../store/testing/immediate';
import { MemoryStore } from '../../store';
import type { AssignmentsMessage, Service, Task } from '../../types';
import { Dispatcher, HEARTBEAT_FAILURE, LEADERSHIP_CHANGE } from './dispatcher';
import { MAX_NODES_PER_WRITE } from './batch-writes';
import { waitFor } from '../../testing/wait';
import { collectGarbage } from '../../testing/gc';
import { LogBroker, type LogSubscriptionFeed } from './logbroker';
import type { DispatcherOptions } from './options';
import { nodeFixture, taskFixture } from '../../testing/fixtures';

const clock = { now: () => Date.now() };
const desc = { Hostname: 'h', Platform: {}, Resources: {}, Engine: { EngineVersion: '1' } };

const task = (id: string, nodeId = 'n1'): Task =>
  taskFixture({ ID: id, NodeID: nodeId, Status: { Timestamp: '', State: 'assigned', Message: '' } });

/**
 * A started dispatcher over `store` (stopped after the test) and node n1's session and assignment stream (ended after
 * the test), its complete set read.
 */
async function n1Stream(t: TestContext, store: MemoryStore, opts: Partial<DispatcherOptions>, logs?: () => LogSubscriptionFeed) {
  const d = new Dispatcher({ store, clock, ...opts });
  d.start();
  t.after(() => d.stop());
  const s = await d.session({ nodeId: 'n1', description: desc, addr: '10.0.0.1' });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const it = d.assignments(s.sessionId, ac.signal, false, logs)[Symbol.asyncIterator]();
  assert.equal(((await it.next()).value as AssignmentsMessage).type, 'complete');
  return { d, s, ac, it };
}


test('assignment stream: complete first, then incremental changes for this node only; status echoes suppressed', async (t) => {
  const store = immediateStore();
  const d = new Dispatcher({ store, clock, batchMs: 2 });
  d.start();
  t.after(() => d.stop());
  await store.update((tx) => {
    tx.create('task', task('a'));
    tx.create('task', task('x', 'n2'));
  });
  const s = await d.session({ nodeId: 'n1', description: desc, addr: '10.0.0.1' });
  const ac = new AbortController();
  const it = d.assignments(s.sessionId, ac.signal)[Symbol.asyncIterator]();
  const first = (await it.next()).value as AssignmentsMessage;
  assert.equal(first.type, 'complete');
  assert.deepEqual(first.updateTasks.map((x) => x.ID), ['a']);

  // the agent's own status report is written but not sent back
  await d.updateTaskStatus(s.sessionId, [{ taskId: 'a', status: { Timestamp: '', State: 'accepted', Message: 'accepted' } }]);
  assert.equal(store.view((tx) => tx.get('task', 'a'))?.Status.State, 'accepted');
  await store.update((tx) => {
    tx.create('task', task('b'));
    tx.create('task', task('y', 'n2'));
    tx.delete('task', 'a');
  });
  const second = (await it.next()).value as AssignmentsMessage;
  assert.deepEqual(second, { type: 'incremental', updateTasks: [store.view((tx) => tx.get('task', 'b'))], removeTasks: ['a'] });
  ac.abort();
  assert.equal((await it.next()).done, true);
});

// A guard that a round's events never outlive it. A suspended generator keeps the dead locals of its last round
// (`events`, `changes`, the race's result: in node 20, until the next round overwrites them), so a stream waiting
// for its next change kept its last round's tasks, old versions included: this failed on the stream that computed
// its message in its own frame. With a quiet log feed it also failed while the feed's pending read joined every
// round's Promise.race (each race left a reaction on it holding that round's result).
for (const withLogs of [false, true]) {
  for (const waiting of ['its message taken', 'the next one asked for']) {
    test(`assignment stream${withLogs ? ' with a log feed' : ''}, ${waiting}: a round keeps nothing of the tasks it saw (a removed task can be collected)`, async (t) => {
      const store = immediateStore();
      await store.update((tx) => tx.create('task', { ...task('a'), Labels: { pad: 'x'.repeat(1 << 20) } }));
      // the committed object itself (store.view would hand out a copy nobody else holds)
      const gone = new WeakRef(store.read((tx) => tx.get('task', 'a'))!);
      const broker = new LogBroker();
      // in a function of its own: the test's suspended frame holds none of the messages
      let it: AsyncIterator<AssignmentsMessage> | undefined;
      let ac: AbortController | undefined;
      const takeTwo = async () => {
        ({ it, ac } = await n1Stream(t, store, { batchMs: 2 }, withLogs ? () => broker.feed('n1') : undefined));
        await store.update((tx) => tx.delete('task', 'a'));
        assert.deepEqual(((await it!.next()).value as AssignmentsMessage).removeTasks, ['a']);
      };
      await takeTwo();
      const pending = waiting === 'the next one asked for' ? it!.next() : undefined;
      await collectGarbage();
      assert.equal(gone.deref(), undefined, 'the removed task is still held');
      ac!.abort();
      await pending;
    });
  }
}

// A stream's log feed is read once at a time and wakes the round that waits; it does not join every round's race,
// where its pending read gained a reaction per round for the stream's life (that build: 21 MiB more after 20,000
// rounds of one node; 130 MiB more at a survivor's peak in a 100,000-task scale-down).
test('assignment stream with a quiet log feed: its rounds leave nothing behind', async (t) => {
  const store = immediateStore();
  await store.update((tx) => tx.create('task', task('a')));
  const broker = new LogBroker();
  const { it } = await n1Stream(t, store, { batchMs: 0 }, () => broker.feed('n1'));
  const rounds = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await store.update((tx) => tx.update('task', { ...tx.get('task', 'a')!, Labels: { round: String(i) } }));
      assert.equal(((await it.next()).value as AssignmentsMessage).updateTasks.length, 1);
    }
  };
  const heapAfter = async () => {
    await collectGarbage();
    return process.memoryUsage().heapUsed;
  };
  await rounds(2_000);
  const before = await heapAfter();
  await rounds(20_000);
  const grown = (await heapAfter()) - before;
  assert.ok(grown < 2 * 2 ** 20, `the heap grew by ${(grown / 2 ** 20).toFixed(1)} MiB over 20,000 rounds`);
});

test("complete sets: the next session's set is built once one on its way was written", async (t) => {
  const store = immediateStore();
  const d = new Dispatcher({ store, clock, batchMs: 2, completeSetsAtOnce: 1 });
  d.start();
  t.after(() => d.stop());
  await store.update((tx) => {
    tx.create('task', task('a', 'n1'));
    tx.create('task', task('b', 'n2'));
  });
  const ac = new AbortController();
  t.after(() => ac.abort());
  const s1 = await d.session({ nodeId: 'n1', description: desc, addr: '10.0.0.1' });
  const s2 = await d.session({ nodeId: 'n2', description: desc, addr: '10.0.0.2' });
  const it1 = d.assignments(s1.sessionId, ac.signal)[Symbol.asyncIterator]();
  const it2 = d.assignments(s2.sessionId, ac.signal)[Symbol.asyncIterator]();
  const first1 = (await it1.next()).value as AssignmentsMessage;
  assert.deepEqual(first1.updateTasks.map((x) => x.ID), ['a']);
  // n1's set is yielded and not yet written (its stream not asked for more): n2's waits, and sees what happens meanwhile
  let first2: AssignmentsMessage | undefined;
  const waiting = it2.next().then((r) => (first2 = r.value as AssignmentsMessage));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(first2, undefined);
  await store.update((tx) => tx.create('task', task('c', 'n2')));
  void it1.next(); // n1's set written: the stream asks for its next message
  await waiting;
  assert.equal(first2!.type, 'complete');
  assert.deepEqual(first2!.updateTasks.map((x) => x.ID).sort(), ['b', 'c']);
});

test('node record: created if missing, Description and Status updated, Spec kept', async (t) => {
  const store = immediateStore();
  const d = new Dispatcher({ store, clock });
  d.start();
  t.after(() => d.stop());
  await d.session({ nodeId: 'n1', description: desc, addr: '10.0.0.1' });
  const n = store.view((tx) => tx.get('node', 'n1'))!;
  assert.deepEqual(n.Spec, { Role: 'worker', Availability: 'active' });
  assert.deepEqual(n.Status, { State: 'ready', Addr: '10.0.0.1' });
  await store.update((tx) => {
    const x = tx.get('node', 'n1')!;
    x.Spec = { Role: 'manager', Availability: 'drain', Labels: { a: 'b' } };
    tx.update('node', x);
  });
  await d.session({ nodeId: 'n1', description: { ...desc, Hostname: 'h2' }, addr: '10.0.0.2' });
  const n2 = store.view((tx) => tx.get('node', 'n1'))!;
  assert.equal(n2.Spec.Availability, 'drain');
  assert.equal(n2.Description.Hostname, 'h2');
  assert.equal(n2.Status.Addr, '10.0.0.2');
});

test('disconnectGraceMs: a closed stream marks the node down without waiting for heartbeats', async (t) => {
  const store = immediateStore();
  const d = new Dispatcher({ store, clock, disconnectGraceMs: 20 });
  d.start();
  t.after(() => d.stop());
  const s = await d.session({ nodeId: 'n1', description: desc, addr: '10.0.0.1' });
  const ac = new AbortController();
  const it = d.assignments(s.sessionId, ac.signal)[Symbol.asyncIterator]();
  await it.next();
  ac.abort();
  await it.next();
  const n = await waitFor('down', () => {
    const x = store.view((tx) => tx.get('node', 'n1'));
    return x?.Status.State === 'down' ? x : undefined;
  });
  assert.equal(n.Status.Message, HEARTBEAT_FAILURE);
});

test('a starting dispatcher marks the nodes it has no session with Unknown (as Docker does); a session makes them Ready; down stays down', async (t) => {
  const store = immediateStore();
  await store.update((tx) => {
    tx.create('node', nodeFixture({ ID: 'n1' }));
    tx.create('node', nodeFixture({ ID: 'n2', Status: { State: 'down', Addr: '10.0.0.2' } }));
  });
  const d = new Dispatcher({ store, clock });
  d.start();
  t.after(() => d.stop());
  const n1 = await waitFor('n1 unknown', () => {
    const x = store.view((tx) => tx.get('node', 'n1'));
    return x?.Status.State === 'unknown' ? x : undefined;
  });
  assert.equal(n1.Status.Message, LEADERSHIP_CHANGE);
  assert.equal(store.view((tx) => tx.get('node', 'n2'))?.Status.State, 'down');
  await d.session({ nodeId: 'n1', description: desc, addr: '10.0.0.1' });
  assert.equal(store.view((tx) => tx.get('node', 'n1'))?.Status.State, 'ready');
});

test('a starting dispatcher marks thousands of nodes Unknown in writes of at most MAX_NODES_PER_WRITE nodes', async (t) => {
  const store = immediateStore();
  const count = MAX_NODES_PER_WRITE * 3 + 7;
  await store.update((tx) => {
    for (let i = 0; i < count; i++) tx.create('node', nodeFixture({ ID: `n${i}` }));
  });
  const w = store.watch({ kinds: ['node'] });
  const d = new Dispatcher({ store, clock });
  d.start();
  t.after(() => d.stop());
  await waitFor('every node unknown', () => store.view((tx) => tx.find('node', (n) => n.Status.State === 'unknown').length) === count);
  const byIndex = new Map<number, number>();
  for (const e of w.drain()) byIndex.set(e.index, (byIndex.get(e.index) ?? 0) + 1);
  w.close();
  // one write of them all was over the Raft entry limit at 5,000 nodes, and then no node was marked at all
  assert.equal(byIndex.size, 4);
  assert.ok(Math.max(...byIndex.values()) <= MAX_NODES_PER_WRITE, `writes of ${[...byIndex.values()].join(', ')} nodes`);
});

test("the node's version moves only on real changes: heartbeats and a session with the same facts write nothing", async (t) => {
  const store = immediateStore();
  const d = new Dispatcher({ store, clock });
  d.start();
  t.after(() => d.stop());
  const s = await d.session({ nodeId: 'n1', description: desc, addr: '10.0.0.1' });
  const v1 = store.view((tx) => tx.get('node', 'n1'))!.Version.Index;
  for (let i = 0; i < 3; i++) await d.heartbeat(s.sessionId);
  // The agent reconnects (a blip, a leadership change) with the same description: same version.
  await d.session({ nodeId: 'n1', description: { Engine: { EngineVersion: '1' }, Resources: {}, Platform: {}, Hostname: 'h' }, addr: '10.0.0.1' });
  assert.equal(store.view((tx) => tx.get('node', 'n1'))!.Version.Index, v1);
  await d.session({ nodeId: 'n1', description: desc, addr: '10.0.0.9' });
  assert.ok(store.view((tx) => tx.get('node', 'n1'))!.Version.Index > v1, 'a new address is a real change');
});

test('drain acknowledgement: a stopping task is drained once every connected node acknowledged a view without it', async (t) => {
  const store = immediateStore();
  const d = new Dispatcher({ store, clock, batchMs: 2 });
  d.start();
  t.after(() => d.stop());
  const web: Service = {
    ID: 'svc',
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: 'web', TaskTemplate: {}, Mode: { Replicated: { Replicas: 1 } } },
    Endpoint: { Spec: {}, Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
    internal: { specVersion: 1 },
  };
  const old = taskFixture({
    ID: 'old',
    ServiceID: 'svc',
    NodeID: 'n1',
    Status: { Timestamp: '', State: 'running', Message: '' },
    internal: { specVersion: 1, serviceName: 'web', endpoints: [{ Protocol: 'tcp', TargetPort: 80, Port: 31001 }] },
  });
  const s1 = await d.session({ nodeId: 'n1', description: desc, addr: '10.0.0.1' });
  const s2 = await d.session({ nodeId: 'n2', description: desc, addr: '10.0.0.2' });
  await store.update((tx) => {
    tx.create('service', web);
    tx.create('task', old);
  });
  // each node's stream: the view with its number; the node acknowledges it once its mesh applied it
  const streams = [s1, s2].map((s) => {
    const ac = new AbortController();
    t.after(() => ac.abort());
    return { s, it: d.assignments(s.sessionId, ac.signal)[Symbol.asyncIterator]() };
  });
  const nextView = async (x: (typeof streams)[number]) => {
    for (;;) {
      const m = (await x.it.next()).value as AssignmentsMessage;
      if (m.network && m.networkVersion !== undefined) return { backends: m.network.ingress.flatMap((e) => e.backends.map((b) => b.taskId)), version: m.networkVersion };
    }
  };
  const withOld = async (x: (typeof streams)[number]) => {
    while (!(await nextView(x)).backends.includes('old'));
  };
  await Promise.all(streams.map((x) => withOld(x)));
  // while old is in every node's table, it is not drained (a short wait times out with nothing)
  assert.deepEqual(await d.meshDrained(s1.sessionId, ['old'], 0), []);
  await store.update((tx) => {
    const x = tx.get('task', 'old')!;
    x.DesiredState = 'shutdown';
    tx.update('task', x);
  });
  const [v1, v2] = await Promise.all(streams.map((x) => nextView(x)));
  assert.deepEqual([v1!.backends, v2!.backends], [[], []]);
  // a long poll: answered when the last node acknowledges, not at its deadline
  const asked = d.meshDrained(s1.sessionId, ['old'], 30_000);
  await d.meshApplied(s1.sessionId, v1!.version);
  assert.deepEqual(await d.meshDrained(s1.sessionId, ['old'], 0), [], "n2's mesh may still send to old");
  const started = Date.now();
  await d.meshApplied(s2.sessionId, v2!.version);
  assert.deepEqual(await asked, ['old']);
  assert.ok(Date.now() - started < 10_000, 'woken by the acknowledgement, not at the 30 s deadline');
});

test('sessions opened together are registered in one store write, and nodes expiring together are marked down in one (1,000 nodes: not one commit each)', async (t) => {
  let index = 0;
  const writes: number[] = [];
  const store: MemoryStore = new MemoryStore({
    propose: async (changes) => {
      writes.push(changes.length);
      await new Promise((r) => setTimeout(r, 20)); // a commit takes a while: what arrives meanwhile waits for the next write
      store.applyCommitted(++index, changes);
    },
  });
  let now = Date.now();
  const d = new Dispatcher({ store, clock: { now: () => now }, batchMs: 2, checkIntervalMs: 3_600_000 });
  d.start();
  t.after(() => d.stop());
  const ids = Array.from({ length: 50 }, (_, i) => `n${i}`);
  const sessions = await Promise.all(ids.map((nodeId) => d.session({ nodeId, description: desc, addr: '10.0.0.1' })));
  assert.equal(new Set(sessions.map((s) => s.sessionId)).size, 50);
  for (const id of ids) assert.equal(store.view((tx) => tx.get('node', id))?.Status.State, 'ready', id);
  // one write for all 50 sessions (the start's markUnknown had nothing to mark)
  assert.deepEqual(writes, [50]);
  // and their heartbeats expiring together: one write marks them all down
  now += 60_000;
  d.checkHeartbeats();
  await waitFor('every node down', () => ids.every((id) => store.view((tx) => tx.get('node', id))?.Status.State === 'down'));
  assert.deepEqual(writes, [50, 50]);
  // a session whose write fails is refused and ends
  const failing = new Dispatcher({ store: new MemoryStore({ propose: () => Promise.reject(new Error('raft: not the leader')) }), clock, batchMs: 2 });
  failing.start();
  t.after(() => failing.stop());
  await assert.rejects(failing.session({ nodeId: 'n1', description: desc, addr: '' }), /not the leader/);
  assert.deepEqual(failing.connectedNodes(), []);
});

test('batching: a lone status report and a lone assignment change go out at once, whatever the batch interval', async (t) => {
  // An hour's interval: with a delay after the first item (the old batching) neither would arrive in this test.
  const store = immediateStore();
  let now = Date.now();
  await store.update((tx) => tx.create('task', task('a')));
  const { d, s, it } = await n1Stream(t, store, { clock: { now: () => now }, batchMs: 3_600_000, checkIntervalMs: 3_600_000 });
  // the failure of a task, an interval after the session's write: written in the next turn, not an interval later
  now += 3_600_000;
  await d.updateTaskStatus(s.sessionId, [{ taskId: 'a', status: { Timestamp: '', State: 'failed', Message: 'started', Err: 'task: non-zero exit (137)' } }]);
  assert.equal(store.view((tx) => tx.get('task', 'a'))?.Status.State, 'failed');
  // a new task for the node: sent at once
  await store.update((tx) => tx.create('task', task('b')));
  const msg = (await it.next()).value as AssignmentsMessage;
  assert.deepEqual(msg.updateTasks.map((x) => x.ID), ['b']);
});
