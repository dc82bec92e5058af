import { test } from 'node:test';
import assert from 'node:assert/strict';
import { historyKey, planRestarts, promoteDelayed, shouldRestart, type SlotRestarts } from './restart';
import { idGen, mkNode, mkService, mkTask, T0 } from './testkit';
import type { Service, Task } from '../../../types';

const S = 1_000_000_000;
const nodes = (...ns: ReturnType<typeof mkNode>[]) => new Map(ns.map((n) => [n.ID, n]));
const plan = (service: ReturnType<typeof mkService>, tasks: Task[], ns = nodes(mkNode('A'), mkNode('B')), history = new Map<string, SlotRestarts>(), now = T0 + 1000) =>
  planRestarts({ service, tasks, nodes: ns, history, now, newId: idGen('r') });

test('failed task: old → DesiredState shutdown (status kept), replacement in same slot, READY, PENDING, current spec, default 5 s delay', () => {
  const s = mkService('s', { replicas: 1, version: 3 });
  const old = mkTask(s, { id: 'old', slot: 1, node: 'A', state: 'failed', version: 2 });
  const p = plan(s, [old]);
  assert.equal(p.mutations.length, 2);
  const [u, c] = p.mutations;
  assert.equal(u!.op, 'update');
  assert.equal(u!.op === 'update' && u.task.DesiredState, 'shutdown');
  assert.equal(u!.op === 'update' && u.task.Status.State, 'failed');
  assert.ok(c!.op === 'create');
  if (c!.op !== 'create') return;
  assert.equal(c.task.Slot, 1);
  assert.equal(c.task.DesiredState, 'ready');
  // no network, no published port: nothing for the allocator, straight to the scheduler
  assert.equal(c.task.Status.State, 'pending');
  assert.equal(c.task.Status.Message, 'pending task scheduling');
  assert.equal(c.task.internal.specVersion, 3);
  assert.equal(c.task.NodeID, undefined);
  assert.deepEqual(c.task.internal.delayedStart, { notBefore: T0 + 1000 + 5000 });
  assert.deepEqual(p.restarts, [{ key: 's/slot:1', specVersion: 3, at: T0 + 1000 }]);
});

test('conditions: any restarts always; on-failure not after a clean exit; none never', () => {
  const mk = (cond: 'any' | 'on-failure' | 'none', state: 'complete' | 'failed' | 'rejected' | 'shutdown') => {
    const s = mkService('s', { spec: { RestartPolicy: { Condition: cond } } });
    return shouldRestart(mkTask(s, { slot: 1, state }), undefined, T0);
  };
  assert.equal(mk('any', 'complete'), true);
  assert.equal(mk('any', 'failed'), true);
  assert.equal(mk('on-failure', 'complete'), false);
  assert.equal(mk('on-failure', 'failed'), true);
  assert.equal(mk('on-failure', 'rejected'), true);
  assert.equal(mk('none', 'failed'), false);
  // with none, the task is still shut down but not replaced
  const s = mkService('s', { spec: { RestartPolicy: { Condition: 'none' } } });
  const p = plan(s, [mkTask(s, { slot: 1, node: 'A', state: 'failed' })]);
  assert.deepEqual(p.mutations.map((m) => m.op), ['update']);
});

test('max attempts: unlimited window counts every restart; a window only recent ones; a spec change resets', () => {
  const s = mkService('s', { spec: { RestartPolicy: { MaxAttempts: 2 } } });
  const t = mkTask(s, { slot: 1, state: 'failed' });
  assert.equal(shouldRestart(t, { specVersion: 1, times: [T0] }, T0 + 100_000), true);
  assert.equal(shouldRestart(t, { specVersion: 1, times: [T0, T0 + 1] }, T0 + 100_000), false);
  assert.equal(shouldRestart(t, { specVersion: 0, times: [T0, T0 + 1] }, T0 + 100_000), true);
  const w = mkService('w', { spec: { RestartPolicy: { MaxAttempts: 2, Window: 10 * S } } });
  const tw = mkTask(w, { slot: 1, state: 'failed' });
  assert.equal(shouldRestart(tw, { specVersion: 1, times: [T0, T0 + 1] }, T0 + 5_000), false);
  assert.equal(shouldRestart(tw, { specVersion: 1, times: [T0, T0 + 1] }, T0 + 10_001), true);
  assert.equal(shouldRestart(tw, { specVersion: 1, times: [T0, T0 + 9_000] }, T0 + 10_001), true);
  // history is per slot
  const p = planRestarts({
    service: s,
    tasks: [mkTask(s, { slot: 1, node: 'A', state: 'failed' }), mkTask(s, { slot: 2, node: 'A', state: 'failed' })],
    nodes: nodes(mkNode('A')),
    history: new Map([[historyKey({ ServiceID: 's', Slot: 1 }), { specVersion: 1, times: [1, 2] }]]),
    now: T0,
    newId: idGen(),
  });
  assert.deepEqual(p.mutations.filter((m) => m.op === 'create').map((m) => m.op === 'create' && m.task.Slot), [2]);
});

test('node down: running task desired shutdown (status untouched) and replaced with delay; node drained: no delay, waits for old', () => {
  const s = mkService('s', { spec: { RestartPolicy: { Delay: 2 * S } } });
  const down = mkTask(s, { id: 'd', slot: 1, node: 'A', state: 'running' });
  const drained = mkTask(s, { id: 'r', slot: 2, node: 'B', state: 'running' });
  const ok = mkTask(s, { id: 'ok', slot: 3, node: 'C', state: 'running' });
  const p = plan(s, [down, drained, ok], nodes(mkNode('A', { state: 'down' }), mkNode('B', { availability: 'drain' }), mkNode('C')), new Map(), T0);
  const ups = p.mutations.filter((m) => m.op === 'update').map((m) => m.op === 'update' && [m.task.ID, m.task.DesiredState, m.task.Status.State]);
  assert.deepEqual(ups, [['d', 'shutdown', 'running'], ['r', 'shutdown', 'running']]);
  const cs = p.mutations.filter((m) => m.op === 'create').map((m) => m.op === 'create' && [m.task.Slot, m.task.internal.delayedStart]);
  assert.deepEqual(cs, [
    [1, { notBefore: T0 + 2000 }],
    [2, { notBefore: T0, waitFor: 'r', waitUntil: T0 + 60_000 }],
  ]);
  // a removed node counts as down
  const p2 = plan(s, [mkTask(s, { slot: 1, node: 'gone' })], nodes());
  assert.equal(p2.mutations.length, 2);
});

test('no replacement when another runnable task holds the slot; deleted/ready tasks untouched; global restarts on same node', () => {
  const s = mkService('s');
  const p = plan(s, [mkTask(s, { slot: 1, node: 'A', state: 'failed' }), mkTask(s, { slot: 1, node: 'B', state: 'running' })]);
  assert.deepEqual(p.mutations.map((m) => m.op), ['update']);
  const g = mkService('g', { global: true });
  const pg = plan(g, [mkTask(g, { node: 'A', state: 'failed' }), mkTask(g, { node: 'B', state: 'running' })], nodes(mkNode('A'), mkNode('B', { state: 'down' })));
  const c = pg.mutations.find((m) => m.op === 'create');
  assert.ok(c && c.op === 'create' && c.task.NodeID === 'A' && c.task.Slot === undefined);
  assert.equal(pg.mutations.length, 2); // the task on the down node is the global orchestrator's
});

test('promoteDelayed: starts after the delay, waits for the old task (bounded), reports the next wake-up', () => {
  const s = mkService('s');
  const r1 = { ...mkTask(s, { id: 'r1', slot: 1, state: 'new', desired: 'ready' }) };
  r1.internal.delayedStart = { notBefore: T0 + 5000 };
  const old = mkTask(s, { id: 'old', slot: 2, node: 'B', state: 'running', desired: 'shutdown' });
  const r2 = mkTask(s, { id: 'r2', slot: 2, state: 'new', desired: 'ready' });
  r2.internal.delayedStart = { notBefore: T0, waitFor: 'old', waitUntil: T0 + 60_000 };
  const all = [r1, old, r2];
  const byId = new Map(all.map((t) => [t.ID, t]));
  const ns = nodes(mkNode('B', { availability: 'drain' }));
  let r = promoteDelayed(all, byId, ns, T0 + 1000);
  assert.deepEqual(r.mutations, []);
  assert.equal(r.wakeAt, T0 + 5000);
  r = promoteDelayed(all, byId, ns, T0 + 5000);
  assert.deepEqual(r.mutations.map((m) => m.op === 'update' && [m.task.ID, m.task.DesiredState, m.task.internal.delayedStart]), [['r1', 'running', undefined]]);
  assert.equal(r.wakeAt, T0 + 60_000);
  const stopped = new Map(byId).set('old', { ...old, Status: { ...old.Status, State: 'shutdown' } });
  r = promoteDelayed(all, stopped, ns, T0 + 5000);
  assert.equal(r.mutations.length, 2);
  r = promoteDelayed([r2], byId, ns, T0 + 60_000);
  assert.equal(r.mutations.length, 1);
});

/** Not on a node yet: NEW (waiting for the allocator) or PENDING (for the scheduler). */
const unplaced = (t: Task): boolean => t.Status.State === 'new' || t.Status.State === 'pending';

// Golden trace: a task that fails every time it runs, driven through planRestarts/promoteDelayed in
// virtual time (the loop's history bookkeeping reproduced), for each restart policy of interest.
function crashLoop(policy: NonNullable<Task['Spec']['RestartPolicy']>, failAfterMs: number, untilMs: number): string[] {
  const s = mkService('s', { spec: { RestartPolicy: policy } });
  const ns = nodes(mkNode('A'));
  const history = new Map<string, SlotRestarts>();
  const newId = idGen('r');
  let tasks: Task[] = [mkTask(s, { id: 'r0', slot: 1, node: 'A', state: 'running', created: T0 })];
  const startedAt = new Map<string, number>([['r0', T0]]);
  const trace: string[] = [];
  const apply = (muts: ReturnType<typeof planRestarts>['mutations']) => {
    for (const m of muts) {
      if (m.op === 'create') tasks.push(m.task);
      else if (m.op === 'update') {
        const u = m.task;
        tasks = tasks.map((t) => (t.ID === u.ID ? u : t));
      }
    }
  };
  for (let now = T0; now <= T0 + untilMs; now += 100) {
    // the agent: a running task fails `failAfterMs` after it started; a task promoted to RUNNING starts
    for (const t of tasks) {
      if (t.DesiredState === 'running' && unplaced(t)) {
        t.Status = { ...t.Status, State: 'running' };
        t.NodeID = 'A';
        startedAt.set(t.ID, now);
        trace.push(`${(now - T0) / 1000}s start ${t.ID}`);
      } else if (t.Status.State === 'running' && now - (startedAt.get(t.ID) ?? now) >= failAfterMs) {
        t.Status = { ...t.Status, State: 'failed', Err: 'task: non-zero exit (1)' };
        trace.push(`${(now - T0) / 1000}s fail ${t.ID}`);
      }
    }
    const p = planRestarts({ service: s, tasks, nodes: ns, history, now, newId });
    apply(p.mutations);
    for (const m of p.mutations) if (m.op === 'create') trace.push(`${(now - T0) / 1000}s restart ${m.task.ID} (start not before +${(m.task.internal.delayedStart!.notBefore - now) / 1000}s)`);
    for (const r of p.restarts) {
      const h = history.get(r.key);
      if (h && h.specVersion === r.specVersion) h.times.push(r.at);
      else history.set(r.key, { specVersion: r.specVersion, times: [r.at] });
    }
    apply(promoteDelayed(tasks, new Map(tasks.map((t) => [t.ID, t])), ns, now).mutations);
  }
  trace.push(`tasks ${tasks.length}, live ${tasks.filter((t) => t.DesiredState === 'running' || t.DesiredState === 'ready').length}`);
  return trace;
}

test('golden: crash loop with on-failure, delay 1s, max attempts 2 (no window): two restarts, then gives up', () => {
  assert.deepEqual(crashLoop({ Condition: 'on-failure', Delay: 1 * S, MaxAttempts: 2 }, 500, 10_000), [
    '0.5s fail r0',
    '0.5s restart r1 (start not before +1s)',
    '1.6s start r1',
    '2.1s fail r1',
    '2.1s restart r2 (start not before +1s)',
    '3.2s start r2',
    '3.7s fail r2',
    'tasks 3, live 0',
  ]);
});

test('golden: crash loop with max attempts 1 in a 3s window: a failure after the window restarts again', () => {
  // each run lasts 2.5 s (the agent starts a promoted task one 100 ms tick later): the restart at 2.5 s
  // is out of the 3 s window by the failure at 6.1 s, so MaxAttempts 1 allows another
  assert.deepEqual(crashLoop({ Condition: 'any', Delay: 1 * S, MaxAttempts: 1, Window: 3 * S }, 2500, 12_000), [
    '2.5s fail r0',
    '2.5s restart r1 (start not before +1s)',
    '3.6s start r1',
    '6.1s fail r1',
    '6.1s restart r2 (start not before +1s)',
    '7.2s start r2',
    '9.7s fail r2',
    '9.7s restart r3 (start not before +1s)',
    '10.8s start r3',
    'tasks 4, live 1',
  ]);
});

test('golden: condition none never restarts; default delay is 5s', () => {
  assert.deepEqual(crashLoop({ Condition: 'none' }, 500, 3000), ['0.5s fail r0', 'tasks 1, live 0']);
  assert.deepEqual(crashLoop({}, 500, 7000).slice(0, 3), ['0.5s fail r0', '0.5s restart r1 (start not before +5s)', '5.6s start r1']);
});

// A node that rejects every task at once (its image is missing: the agent prepares READY tasks, so
// the rejection comes while the replacement still waits out its delay), in virtual time.
function rejectLoop(delayMs: number, untilMs: number): { created: number[]; live: number } {
  const s = mkService('s', { spec: { RestartPolicy: { Condition: 'any', Delay: delayMs * 1_000_000 } } });
  const ns = nodes(mkNode('A'));
  const history = new Map<string, SlotRestarts>();
  const newId = idGen('r');
  let tasks: Task[] = [mkTask(s, { id: 'r0', slot: 1, node: 'A', state: 'new', created: T0 })];
  const created: number[] = [];
  const apply = (muts: ReturnType<typeof planRestarts>['mutations']) => {
    for (const m of muts) {
      if (m.op === 'create') tasks.push(m.task);
      else if (m.op === 'update') tasks = tasks.map((t) => (t.ID === m.task.ID ? m.task : t));
    }
  };
  for (let now = T0; now <= T0 + untilMs; now += 50) {
    // scheduler + agent: every task not yet terminal is assigned and rejected within one tick
    tasks = tasks.map((t) => (unplaced(t) && (t.DesiredState === 'ready' || t.DesiredState === 'running') ? { ...t, NodeID: 'A', Status: { ...t.Status, State: 'rejected', Err: 'No such image: busybox:local' } } : t));
    const p = planRestarts({ service: s, tasks, nodes: ns, history, now, newId });
    apply(p.mutations);
    for (const m of p.mutations) if (m.op === 'create') created.push(now - T0);
    for (const r of p.restarts) {
      const h = history.get(r.key);
      if (h && h.specVersion === r.specVersion) h.times.push(r.at);
      else history.set(r.key, { specVersion: r.specVersion, times: [r.at] });
    }
    apply(promoteDelayed(tasks, new Map(tasks.map((t) => [t.ID, t])), ns, now).mutations);
  }
  return { created, live: tasks.filter((t) => t.DesiredState === 'ready' || t.DesiredState === 'running').length };
}

test('rejected during its restart delay: replaced only when the delay ends, so the rate is bounded by the delay', () => {
  for (const [delayMs, untilMs] of [
    [5000, 15_000],
    [5000, 60_000],
    [1000, 10_000],
    [250, 3000],
  ] as const) {
    const r = rejectLoop(delayMs, untilMs);
    const bound = Math.ceil(untilMs / delayMs) + 1;
    assert.ok(r.created.length <= bound, `delay ${delayMs} ms over ${untilMs} ms: ${r.created.length} replacements > ${bound}: ${r.created.join(',')}`);
    // and it keeps trying, one replacement per delay
    assert.ok(r.created.length >= Math.floor(untilMs / delayMs), `delay ${delayMs}: only ${r.created.length} replacements`);
    for (let i = 1; i < r.created.length; i++) assert.ok(r.created[i]! - r.created[i - 1]! >= delayMs, `replacements ${r.created[i - 1]} and ${r.created[i]} closer than the delay`);
    assert.equal(r.live, 1, 'one live task holds the slot');
  }
});

test('a task rejected during its delay is left READY (no write), not promoted, and replaced once the delay is over', () => {
  const s = mkService('s');
  const t = mkTask(s, { id: 'x', slot: 1, node: 'A', state: 'rejected', desired: 'ready' });
  t.internal.delayedStart = { notBefore: T0 + 5000 };
  assert.deepEqual(plan(s, [t], undefined, undefined, T0 + 100).mutations, []);
  const early = promoteDelayed([t], new Map([[t.ID, t]]), nodes(mkNode('A')), T0 + 100);
  assert.deepEqual(early, { mutations: [], wakeAt: T0 + 5000 });
  assert.deepEqual(promoteDelayed([t], new Map([[t.ID, t]]), nodes(mkNode('A')), T0 + 5000).mutations, [], 'a rejected task is never started');
  const p = plan(s, [t], undefined, undefined, T0 + 5000);
  assert.deepEqual(p.mutations.map((m) => [m.op, m.op !== 'delete' && m.task.DesiredState]), [['update', 'shutdown'], ['create', 'ready']]);
});

test('restart delay 0: the replacement is made RUNNING at once (no delayed start, so no second write to promote it)', () => {
  const s = mkService('s', { spec: { RestartPolicy: { Delay: 0 } } });
  const p = plan(s, [mkTask(s, { id: 'old', slot: 1, node: 'A', state: 'failed' })]);
  const c = p.mutations.find((m) => m.op === 'create');
  assert.ok(c && c.op === 'create');
  assert.equal(c.task.DesiredState, 'running');
  assert.equal(c.task.internal.delayedStart, undefined);
  assert.deepEqual(promoteDelayed([c.task], new Map([[c.task.ID, c.task]]), nodes(mkNode('A')), T0 + 1000).mutations, []);
  // a node that went down: same
  const d = plan(s, [mkTask(s, { id: 'o2', slot: 2, node: 'C', state: 'running' })], nodes(mkNode('A'), mkNode('C', { state: 'down' })));
  assert.deepEqual(d.mutations.map((m) => [m.op, m.op !== 'delete' && m.task.DesiredState]), [['update', 'shutdown'], ['create', 'running']]);
});

test('a node failure with many tasks is planned in bounded passes; a pass never replaces a slot another task holds', () => {
  const s = mkService('s', { replicas: 6 });
  // slots 1–5 failed on A (down); slot 6 failed too but a start-first replacement still holds it
  const failed = [1, 2, 3, 4, 5, 6].map((i) => mkTask(s, { id: `f${i}`, slot: i, node: 'A', state: 'failed' }));
  const holder = mkTask(s, { id: 'h6', slot: 6, node: 'B', state: 'running' });
  const ns = nodes({ ...mkNode('A'), Status: { State: 'down', Addr: '' } } as ReturnType<typeof mkNode>, mkNode('B'));
  const first = planRestarts({ service: s, tasks: [...failed, holder], nodes: ns, history: new Map(), now: T0, newId: idGen('r'), limit: 4 });
  assert.equal(first.more, true);
  assert.equal(first.mutations.length, 4, 'two slots: a shutdown and a replacement each');
  assert.deepEqual(first.mutations.filter((m) => m.op === 'create').map((m) => m.op === 'create' && m.task.Slot), [1, 2]);
  // the next pass sees the first one's writes and goes on where it stopped
  const after = [...failed.map((t) => (t.Slot! <= 2 ? { ...t, DesiredState: 'shutdown' as const } : t)), holder];
  const second = planRestarts({ service: s, tasks: after, nodes: ns, history: new Map(), now: T0, newId: idGen('q') });
  assert.equal(second.more, undefined);
  assert.deepEqual(second.mutations.filter((m) => m.op === 'create').map((m) => m.op === 'create' && m.task.Slot), [3, 4, 5], 'slot 6 is held by h6');
  assert.equal(second.mutations.filter((m) => m.op === 'update').length, 4);
});

test('a replacement that needs the allocator (a network, a published port) is made NEW; one that needs nothing PENDING', () => {
  const cases: [string, (s: Service) => void, string][] = [
    ['no network, no port', () => undefined, 'pending'],
    ['on a network', (s) => (s.Spec.TaskTemplate.Networks = [{ Target: 'net1' }]), 'new'],
    ['published port in the spec (endpoint not allocated yet)', (s) => (s.Spec.EndpointSpec = { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] }), 'new'],
    ['host-mode port', (s) => (s.Spec.EndpointSpec = { Ports: [{ TargetPort: 80, PublishMode: 'host' }] }), 'new'],
  ];
  for (const [what, shape, want] of cases) {
    const s = mkService('s');
    shape(s);
    const p = plan(s, [mkTask(s, { id: 'old', slot: 1, node: 'A', state: 'failed' })]);
    const made = p.mutations.find((m) => m.op === 'create');
    assert.ok(made && made.op === 'create', what);
    assert.equal(made.task.Status.State, want, what);
  }
  // ports left on the allocated endpoint (the spec dropped them, the allocator has not yet): still the allocator's
  const s = mkService('s');
  s.Endpoint = { Spec: {}, Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 30001, PublishMode: 'ingress' }] };
  const made = plan(s, [mkTask(s, { id: 'old', slot: 1, node: 'A', state: 'failed' })]).mutations.find((m) => m.op === 'create');
  assert.equal(made?.op === 'create' && made.task.Status.State, 'new');
});

test('a pass over the named tasks with their slots from an index decides what a pass over every task decides', () => {
  // seeded: tasks in 12 slots over 3 nodes (C Down), running, failed or shut down, wanted running or shut down,
  // some slots with two tasks; the named ones are those an event would name (stopped while wanted, on C)
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), Math.floor(seed / 65536) % n);
  const ns = nodes(mkNode('A'), mkNode('B'), { ...mkNode('C'), Status: { State: 'down', Addr: '' } } as ReturnType<typeof mkNode>);
  let restarts = 0;
  for (let round = 0; round < 200; round++) {
    const s = mkService('s', { replicas: 12, spec: { RestartPolicy: { Condition: 'any', Delay: 0 } } });
    const tasks: Task[] = [];
    for (let slot = 1; slot <= 12; slot++)
      for (let k = 0; k < 1 + rnd(2); k++)
        tasks.push(mkTask(s, { id: `t${slot}.${k}`, slot, node: 'ABC'[rnd(3)], state: (['running', 'failed', 'shutdown'] as const)[rnd(3)], desired: rnd(4) ? 'running' : 'shutdown' }));
    const named = tasks.filter((t) => t.DesiredState === 'running' && (t.Status.State !== 'running' || t.NodeID === 'C'));
    const bySlot = (t: Task) => tasks.filter((o) => o.Slot === t.Slot);
    const whole = planRestarts({ service: s, tasks, nodes: ns, history: new Map(), now: T0, newId: idGen('r') });
    const some = planRestarts({ service: s, tasks: named, slotTasks: bySlot, nodes: ns, history: new Map(), now: T0, newId: idGen('r') });
    const shape = (p: typeof whole) => p.mutations.map((m) => (m.op === 'update' ? `stop ${m.task.ID}` : m.op === 'create' ? `start slot ${m.task.Slot}` : `delete ${m.id}`)).sort();
    assert.deepEqual(shape(some), shape(whole), `round ${round}`);
    restarts += whole.restarts.length;
  }
  assert.ok(restarts > 200, `${restarts} restarts over the rounds`);
});
