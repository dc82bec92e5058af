import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../store';
import { immediateStore } from '../../store/testing/immediate';
import { SeededRng, type Clock } from '../../lib/ports';
import { defaultSwarmSpec, type Cluster, type Task } from '../../types';
import { ReplicatedOrchestrator, GlobalOrchestrator, JobsOrchestrator, RestartSupervisor, TaskReaper, ConstraintEnforcer } from './index';
import { mkNode, mkService, mkTask } from './core/testkit';
import { waitFor } from '../../testing/wait';
import * as restartCore from './core/restart';
import * as reaperCore from './core/reaper';

const clock: Clock = { now: () => Date.now() };

const tasksOf = (store: MemoryStore, sid: string): Task[] => store.view((tx) => tx.tasksByService(sid));
/** Lets a loop see what was written (its watch reads on a later turn) and finish the flushes it started. */
const settled = async (loop: { idle(): Promise<void> }) => {
  await new Promise((res) => setImmediate(res));
  await loop.idle();
};
const nodeDown = (store: MemoryStore, id: string) =>
  store.update((tx) => {
    const n = tx.get('node', id)!;
    tx.update('node', { ...n, Status: { ...n.Status, State: 'down' } });
  });
const taskFails = (store: MemoryStore, id: string) =>
  store.update((tx) => {
    const o = tx.get('task', id)!;
    tx.update('task', { ...o, Status: { ...o.Status, State: 'failed', Err: 'task: non-zero exit (1)' } });
  });

test('ReplicatedOrchestrator: creates, scales down, removes tasks of a deleted service', async () => {
  const store = immediateStore();
  const o = new ReplicatedOrchestrator({ store, clock, rng: new SeededRng(1) });
  o.start();
  try {
    const s = mkService('web', { replicas: 3 });
    await store.update((tx) => tx.create('service', s));
    await waitFor('3 tasks', () => tasksOf(store, 'web').length === 3);
    assert.deepEqual(tasksOf(store, 'web').map((t) => t.Slot).sort(), [1, 2, 3]);
    assert.ok(tasksOf(store, 'web').every((t) => t.ID.length === 25 && t.Status.State === 'pending'));
    await store.update((tx) => {
      const cur = tx.get('service', 'web')!;
      cur.Spec.Mode = { Replicated: { Replicas: 1 } };
      cur.internal.specVersion++;
      tx.update('service', cur);
    });
    await waitFor('2 removed', () => tasksOf(store, 'web').filter((t) => t.DesiredState === 'remove').length === 2);
    // an UpdateStatus-only write does not make it act
    await store.update((tx) => tx.delete('service', 'web'));
    await waitFor('all removed', () => tasksOf(store, 'web').every((t) => t.DesiredState === 'remove'));
  } finally {
    await o.stop();
  }
});

test('GlobalOrchestrator: a task per node, new node gets one, drained node’s task shut down', async () => {
  const store = immediateStore();
  await store.update((tx) => tx.create('node', mkNode('n1')));
  const o = new GlobalOrchestrator({ store, clock, rng: new SeededRng(2) });
  o.start();
  try {
    await store.update((tx) => tx.create('service', mkService('g', { global: true })));
    await waitFor('task on n1', () => tasksOf(store, 'g').some((t) => t.NodeID === 'n1'));
    await store.update((tx) => tx.create('node', mkNode('n2')));
    await waitFor('task on n2', () => tasksOf(store, 'g').some((t) => t.NodeID === 'n2'));
    await store.update((tx) => {
      const n = tx.get('node', 'n1')!;
      n.Spec.Availability = 'drain';
      tx.update('node', n);
    });
    await waitFor('n1 task shut down', () => tasksOf(store, 'g').find((t) => t.NodeID === 'n1')?.DesiredState === 'shutdown');
    assert.equal(tasksOf(store, 'g').length, 2);
  } finally {
    await o.stop();
  }
});

test('RestartSupervisor: failed task replaced in its slot as READY, started after the delay; old one shut down', async () => {
  const store = immediateStore();
  const s = mkService('s', { spec: { RestartPolicy: { Delay: 30_000_000 } } }); // 30 ms
  await store.update((tx) => {
    tx.create('node', mkNode('A'));
    tx.create('service', s);
    tx.create('task', mkTask(s, { id: 'old', slot: 1, node: 'A', state: 'running' }));
  });
  const r = new RestartSupervisor({ store, clock, rng: new SeededRng(3) });
  r.start();
  try {
    await store.update((tx) => {
      const t = tx.get('task', 'old')!;
      t.Status = { ...t.Status, State: 'failed', Err: 'task: non-zero exit (1)' };
      tx.update('task', t);
    });
    const repl = await waitFor('replacement', () => tasksOf(store, 's').find((t) => t.ID !== 'old'));
    assert.equal(repl.Slot, 1);
    assert.equal(store.view((tx) => tx.get('task', 'old'))!.DesiredState, 'shutdown');
    await waitFor('started', () => store.view((tx) => tx.get('task', repl.ID))?.DesiredState === 'running');
    assert.equal(store.view((tx) => tx.get('task', repl.ID))!.internal.delayedStart, undefined);
  } finally {
    await r.stop();
  }
});

test('RestartSupervisor: a delayed replacement rejected during its delay is replaced once the delay is over, by passes over the delayed tasks only', async (t) => {
  const store = immediateStore();
  const s = mkService('s', { replicas: 21, spec: { RestartPolicy: { Delay: 40_000_000 } } }); // 40 ms
  await store.update((tx) => {
    tx.create('node', mkNode('A'));
    tx.create('service', s);
    for (let slot = 1; slot <= 21; slot++) tx.create('task', mkTask(s, { id: `t${slot}`, slot, node: 'A', state: 'running' }));
  });
  const r = new RestartSupervisor({ store, clock, rng: new SeededRng(8) });
  r.start();
  try {
    await settled(r);
    const passes = t.mock.method(restartCore, 'planRestarts');
    const fail = (id: string) =>
      store.update((tx) => {
        const o = tx.get('task', id)!;
        tx.update('task', { ...o, Status: { ...o.Status, State: 'rejected', Err: 'No such image: busybox' } });
      });
    await fail('t1');
    const r1 = await waitFor('first replacement', () => tasksOf(store, 's').find((x) => x.Slot === 1 && x.ID !== 't1'));
    assert.equal(r1.DesiredState, 'ready');
    // the agent prepares it at once, and the image is still missing
    await fail(r1.ID);
    const r2 = await waitFor('second replacement', () => tasksOf(store, 's').find((x) => x.Slot === 1 && x.ID !== 't1' && x.ID !== r1.ID));
    assert.ok(Date.parse(r2.CreatedAt) >= Date.parse(r1.CreatedAt) + 40, 'not before the first replacement\'s delay was over');
    await waitFor('started', () => store.view((tx) => tx.get('task', r2.ID))?.DesiredState === 'running');
    for (const c of passes.mock.calls) assert.ok(c.arguments[0].tasks.length <= 2, `a pass examined ${c.arguments[0].tasks.length} tasks`);
  } finally {
    await r.stop();
  }
});

test('RestartSupervisor: tasks of a scale-down (wanted removed) reaching SHUTDOWN make no pass; a wanted task that stops does', async (t) => {
  const store = immediateStore();
  const s = mkService('s');
  await store.update((tx) => {
    tx.create('node', mkNode('A'));
    tx.create('service', s);
    for (let slot = 1; slot <= 3; slot++) tx.create('task', mkTask(s, { id: `t${slot}`, slot, node: 'A', state: 'running' }));
  });
  const r = new RestartSupervisor({ store, clock, rng: new SeededRng(4) });
  r.start();
  try {
    // the first pass, over every service, is the start's
    await settled(r);
    const passes = t.mock.method(restartCore, 'planRestarts');
    // what a scale to 1 does: the orchestrator wants slots 2 and 3 removed, their agents shut them down
    await store.update((tx) => {
      for (const id of ['t2', 't3']) tx.update('task', { ...tx.get('task', id)!, DesiredState: 'remove' });
    });
    await store.update((tx) => {
      for (const id of ['t2', 't3']) {
        const o = tx.get('task', id)!;
        tx.update('task', { ...o, Status: { ...o.Status, State: 'shutdown' } });
      }
    });
    await settled(r);
    assert.equal(passes.mock.callCount(), 0, 'no pass for tasks shut down on purpose');
    // a task still wanted that stops: the pass that replaces it shows the supervisor was listening all along
    await taskFails(store, 't1');
    await waitFor('t1 replaced', () => tasksOf(store, 's').some((x) => x.Slot === 1 && x.ID !== 't1'));
    assert.ok(passes.mock.callCount() >= 1, 'a pass for the failed task');
  } finally {
    await r.stop();
  }
});

test('RestartSupervisor: a node going Down is a pass over its own tasks and their slots, not over every task of the service', async (t) => {
  const store = immediateStore();
  // 40 replicas over 4 nodes, restarts without delay; slot 1 has a second runnable task (a start-first update's) on B
  const s = mkService('s', { replicas: 40, spec: { RestartPolicy: { Condition: 'any', Delay: 0 } } });
  await store.update((tx) => {
    for (const n of ['A', 'B', 'C', 'D']) tx.create('node', mkNode(n));
    tx.create('service', s);
    for (let slot = 1; slot <= 40; slot++) tx.create('task', mkTask(s, { id: `t${slot}`, slot, node: ['A', 'B', 'C', 'D'][slot % 4], state: 'running' }));
    tx.create('task', mkTask(s, { id: 'extra1', slot: 1, node: 'B', state: 'running' }));
  });
  const r = new RestartSupervisor({ store, clock, rng: new SeededRng(5) });
  r.start();
  try {
    await settled(r);
    const passes = t.mock.method(restartCore, 'planRestarts');
    // node B (slot % 4 === 1: slots 1, 5, …, 37) goes Down
    await nodeDown(store, 'B');
    await waitFor('B\'s tasks replaced', () => tasksOf(store, 's').filter((x) => x.NodeID === 'B' && x.DesiredState === 'shutdown').length === 11);
    await settled(r);
    assert.ok(passes.mock.callCount() >= 1);
    for (const c of passes.mock.calls) assert.ok(c.arguments[0].tasks.length <= 11, `a pass examined ${c.arguments[0].tasks.length} tasks, not B's 11`);
    const live = tasksOf(store, 's').filter((x) => x.DesiredState === 'running');
    // every slot has exactly one task wanted running again: B's 10 slots got a replacement each, and slot 1
    // one replacement, though both its tasks were on B (the second one was not counted as holding the slot)
    assert.equal(live.length, 40);
    assert.deepEqual([...new Set(live.map((x) => x.Slot))].sort((a, b) => a! - b!), Array.from({ length: 40 }, (_, i) => i + 1));
    // a slot whose other task still runs elsewhere is held: slot 2's task on C stops, the one on D does not
    await store.update((tx) => tx.create('task', mkTask(s, { id: 'extra2', slot: 2, node: 'D', state: 'running' })));
    await taskFails(store, 't2');
    await waitFor('t2 shut down', () => store.view((tx) => tx.get('task', 't2')!.DesiredState === 'shutdown'));
    await settled(r);
    assert.deepEqual(tasksOf(store, 's').filter((x) => x.Slot === 2 && x.DesiredState === 'running').map((x) => x.ID), ['extra2']);
  } finally {
    await r.stop();
  }
});

test('RestartSupervisor: a task placed on a node after that node went Down is replaced (the scheduler planned before the Down and wrote after it)', async () => {
  const store = immediateStore();
  const s = mkService('s', { replicas: 1, spec: { RestartPolicy: { Condition: 'any', Delay: 0 } } });
  await store.update((tx) => {
    for (const n of ['A', 'B']) tx.create('node', mkNode(n));
    tx.create('service', s);
    tx.create('task', mkTask(s, { id: 't1', slot: 1, state: 'pending' }));
  });
  const r = new RestartSupervisor({ store, clock, rng: new SeededRng(6) });
  r.start();
  try {
    await settled(r);
    await nodeDown(store, 'B');
    await settled(r);
    // the scheduler's write, planned while B was Ready
    await store.update((tx) => {
      const o = tx.get('task', 't1')!;
      tx.update('task', { ...o, NodeID: 'B', Status: { ...o.Status, State: 'assigned' } });
    });
    await waitFor('t1 replaced', () => tasksOf(store, 's').some((x) => x.Slot === 1 && x.ID !== 't1' && x.DesiredState === 'running'));
    assert.equal(store.view((tx) => tx.get('task', 't1')!.DesiredState), 'shutdown');
  } finally {
    await r.stop();
  }
});

test('RestartSupervisor: a global task that stops is replaced on its node, unless another task of the service holds that node', async () => {
  const store = immediateStore();
  const s = mkService('g', { global: true, spec: { RestartPolicy: { Condition: 'any', Delay: 0 } } });
  await store.update((tx) => {
    for (const n of ['A', 'B']) tx.create('node', mkNode(n));
    tx.create('service', s);
    tx.create('task', mkTask(s, { id: 'ga', node: 'A', state: 'running' }));
    tx.create('task', mkTask(s, { id: 'gb', node: 'B', state: 'running' }));
    tx.create('task', mkTask(s, { id: 'gb2', node: 'B', state: 'running' })); // a start-first update's
  });
  const r = new RestartSupervisor({ store, clock, rng: new SeededRng(9) });
  r.start();
  try {
    await settled(r);
    for (const id of ['ga', 'gb']) await taskFails(store, id);
    await waitFor('both shut down', () => store.view((tx) => ['ga', 'gb'].every((id) => tx.get('task', id)!.DesiredState === 'shutdown')));
    await settled(r);
    const wanted = tasksOf(store, 'g').filter((x) => x.DesiredState === 'running');
    assert.deepEqual(wanted.map((x) => x.NodeID).sort(), ['A', 'B']);
    assert.ok(wanted.some((x) => x.ID === 'gb2') && !wanted.some((x) => x.ID === 'ga'), 'A got a replacement, B kept its other task');
  } finally {
    await r.stop();
  }
});

test('TaskReaper: honours the cluster retention limit and deletes removed tasks', async () => {
  const store = immediateStore();
  const s = mkService('s');
  const cluster: Cluster = {
    ID: 'c',
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { ...defaultSwarmSpec(), Orchestration: { TaskHistoryRetentionLimit: 2 } },
    JoinTokens: { Worker: '', Manager: '' },
    TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
    RootRotationInProgress: false,
    DefaultAddrPool: [],
    SubnetSize: 24,
    DataPathPort: 4789,
    internal: { rootCAKey: '', rootCACert: '' },
  };
  await store.update((tx) => {
    tx.create('cluster', cluster);
    tx.create('node', mkNode('A'));
    tx.create('service', s);
    for (let i = 0; i < 4; i++) tx.create('task', mkTask(s, { id: `h${i}`, slot: 1, node: 'A', state: 'failed', desired: 'shutdown', created: Date.UTC(2024, 0, 1, 0, 0, i) }));
    tx.create('task', mkTask(s, { id: 'rm', slot: 2, node: 'A', state: 'complete', desired: 'remove' }));
  });
  const r = new TaskReaper({ store, clock, rng: new SeededRng(4) });
  r.start();
  try {
    await waitFor('reaped', () => tasksOf(store, 's').length === 2);
    assert.deepEqual(tasksOf(store, 's').map((t) => t.ID).sort(), ['h2', 'h3']);
  } finally {
    await r.stop();
  }
});

test('TaskReaper: a node going Down reaps its tasks wanted removed, reading their slots, not the whole service', async (t) => {
  const store = immediateStore();
  const s = mkService('s', { replicas: 40 });
  await store.update((tx) => {
    for (const n of ['A', 'B']) tx.create('node', mkNode(n));
    tx.create('service', s);
    // a scale-down under way: the slots above 30 are wanted removed; those on B never got to stop
    for (let slot = 1; slot <= 40; slot++) tx.create('task', mkTask(s, { id: `t${slot}`, slot, node: slot % 2 ? 'A' : 'B', state: 'running', desired: slot > 30 ? 'remove' : 'running' }));
  });
  const r = new TaskReaper({ store, clock, rng: new SeededRng(4) });
  r.start();
  try {
    await settled(r);
    assert.equal(tasksOf(store, 's').length, 40, 'nothing to reap while B is up');
    const passes = t.mock.method(reaperCore, 'reapService');
    await nodeDown(store, 'B');
    await waitFor('B\'s removed tasks reaped', () => tasksOf(store, 's').length === 35);
    assert.deepEqual(
      tasksOf(store, 's').filter((x) => x.DesiredState === 'remove').map((x) => x.ID).sort(),
      ['t31', 't33', 't35', 't37', 't39'],
    );
    for (const c of passes.mock.calls) assert.ok(c.arguments[0].tasks.length <= 20, `a pass read ${c.arguments[0].tasks.length} tasks, not B's 20 slots`);
  } finally {
    await r.stop();
  }
});

test('ConstraintEnforcer: a node losing a label rejects its tasks', async () => {
  const store = immediateStore();
  const s = mkService('s', { spec: { Placement: { Constraints: ['node.labels.ok==1'] } } });
  await store.update((tx) => {
    tx.create('node', mkNode('A', { labels: { ok: '1' } }));
    tx.create('service', s);
    tx.create('task', mkTask(s, { id: 't', slot: 1, node: 'A' }));
  });
  const e = new ConstraintEnforcer({ store, clock, rng: new SeededRng(5) });
  e.start();
  try {
    await e.idle();
    assert.equal(store.view((tx) => tx.get('task', 't'))!.Status.State, 'running');
    await store.update((tx) => {
      const n = tx.get('node', 'A')!;
      n.Spec.Labels = {};
      tx.update('node', n);
    });
    await waitFor('rejected', () => store.view((tx) => tx.get('task', 't'))?.Status.State === 'rejected');
  } finally {
    await e.stop();
  }
});

test('JobsOrchestrator: a completed task makes room for the next; a new iteration retires the old one; a poisoned job spec is not run', async () => {
  const store = immediateStore();
  const o = new JobsOrchestrator({ store, clock, rng: new SeededRng(3) });
  o.start();
  try {
    await store.update((tx) => tx.create('service', mkService('j', { mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 3 } } })));
    await waitFor('2 tasks', () => tasksOf(store, 'j').length === 2);
    const complete = async (id: string) =>
      store.update((tx) => {
        const t = tx.get('task', id)!;
        tx.update('task', { ...t, Status: { ...t.Status, State: 'complete' } });
      });
    await complete(tasksOf(store, 'j')[0]!.ID);
    await waitFor('the third task', () => tasksOf(store, 'j').length === 3);
    assert.deepEqual(tasksOf(store, 'j').map((t) => t.Slot).sort(), [0, 1, 2]);
    for (const t of tasksOf(store, 'j')) if (t.Status.State !== 'complete') await complete(t.ID);
    await store.update((tx) => {
      const cur = tx.get('service', 'j')!;
      cur.JobStatus = { JobIteration: { Index: 1 } };
      cur.internal.specVersion++;
      tx.update('service', cur);
    });
    await waitFor('iteration 1 starts', () => tasksOf(store, 'j').filter((t) => t.JobIteration?.Index === 1).length === 2);
    assert.ok(tasksOf(store, 'j').filter((t) => t.JobIteration?.Index === 0).every((t) => t.DesiredState === 'shutdown'));
    await store.update((tx) => tx.create('service', mkService('bad', { mode: { ReplicatedJob: { MaxConcurrent: -1, TotalCompletions: 2 } } })));
    await waitFor('bad marked', () => store.view((tx) => tx.get('service', 'bad')?.UpdateStatus?.Message ?? '').startsWith('invalid service spec, not executed'));
    assert.equal(tasksOf(store, 'bad').length, 0);
  } finally {
    await o.stop();
  }
});
