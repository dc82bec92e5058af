import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../store';
import { immediateStore } from '../../store/testing/immediate';
import { SeededRng } from '../../lib/ports';
import { isoTime } from '../../lib/time';
import { isRunnable, isTerminal, newTask, type Service, type ServiceSpec, type Task } from '../../types';
import { UpdateSupervisor } from './updater';
import * as planner from './core/planner';
import { mkNode, mkService } from './core/testkit';
import { waitFor } from '../../testing/wait';

// Integration: the UpdateSupervisor loop on a real MemoryStore. `FakeCluster` below stands in for the
// scheduler and the agents: it places tasks, starts the ones wanted RUNNING (or fails them when their
// image is "bad"), prepares the ones wanted READY and stops the ones wanted stopped.

const MS = 1_000_000;
const clock = { now: () => Date.now() };

class FakeCluster {
  private watch;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  constructor(
    private store: MemoryStore,
    private badImages: Set<string>,
  ) {
    this.watch = store.watch({ kinds: ['task'] });
    void this.loop();
  }
  private async loop(): Promise<void> {
    for await (const _e of this.watch) this.kick();
  }
  private kick(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, 2);
  }
  private async tick(): Promise<void> {
    if (this.stopped) return;
    await this.store.update((tx) => {
      for (const t of tx.find('task')) {
        if (isTerminal(t.Status.State)) continue;
        const n: Task = { ...t, NodeID: t.NodeID ?? `n${(((t.Slot ?? 1) - 1) % 3) + 1}` };
        let state = t.Status.State;
        if (!isRunnable(t.DesiredState)) state = 'shutdown';
        else if (t.DesiredState === 'running' && state !== 'running') state = this.badImages.has(t.Spec.ContainerSpec?.Image ?? '') ? 'failed' : 'running';
        else if (t.DesiredState === 'ready' && state !== 'ready') state = 'ready';
        if (state !== t.Status.State || n.NodeID !== t.NodeID) tx.update('task', { ...n, Status: { Timestamp: isoTime(Date.now()), State: state, Message: state } });
      }
    });
  }
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.watch.close();
  }
}


async function setup(opts: { spec?: Partial<ServiceSpec>; bad?: string[] }) {
  const store = immediateStore();
  const svc = mkService({ replicas: 3, update: { Monitor: 30 * MS }, rollback: { Monitor: 30 * MS } });
  Object.assign(svc.Spec, opts.spec ?? {});
  await store.update((tx) => {
    for (const n of ['n1', 'n2', 'n3']) tx.create('node', mkNode(n));
    tx.create('service', svc);
    for (let slot = 1; slot <= 3; slot++) {
      const t = newTask({ id: `old${slot}`, service: svc, slot, now: Date.now() });
      tx.create('task', { ...t, NodeID: `n${slot}`, Status: { Timestamp: isoTime(Date.now()), State: 'running', Message: 'started' } });
    }
  });
  const cluster = new FakeCluster(store, new Set(opts.bad ?? []));
  const sup = new UpdateSupervisor({ store, clock, rng: new SeededRng(7), ...(process.env.UPDATER_DEBUG ? { logger: { info: console.log, warn: console.log, debug: (o: unknown) => console.log(JSON.stringify(o)) } } : {}) });
  sup.start();
  const service = () => store.view((tx) => tx.get('service', 'svc') as Service);
  const update = (image: string) =>
    store.update((tx) => {
      const s = tx.get('service', 'svc') as Service;
      s.PreviousSpec = structuredClone(s.Spec);
      s.Spec.TaskTemplate.ContainerSpec = { Image: image };
      s.internal = { specVersion: s.internal.specVersion + 1, previousSpecVersion: s.internal.specVersion };
      tx.update('service', s);
    });
  const live = () => store.view((tx) => tx.tasksByService('svc').filter((t) => isRunnable(t.DesiredState)));
  const stop = () => {
    sup.stop();
    cluster.stop();
  };
  return { store, sup, service, update, live, stop };
}

test('integration: a 3-replica rolling update completes, one slot at a time', async () => {
  const h = await setup({});
  try {
    // nothing happens to a fresh service
    await h.sup.idle();
    assert.equal(h.service().UpdateStatus, undefined);
    // watch the rollout: at most one slot is being replaced at any time (Parallelism 1), never N+1
    let maxInFlight = 0;
    let maxLive = 0;
    const w = h.store.watch({ kinds: ['task'] });
    void (async () => {
      for await (const _e of w) {
        const live = h.live();
        maxLive = Math.max(maxLive, live.length);
        maxInFlight = Math.max(maxInFlight, live.filter((t) => t.Spec.ContainerSpec?.Image === 'nginx:2' && t.Status.State !== 'running').length);
      }
    })();
    await h.update('nginx:2');
    const st = await waitFor('update completed', () => (h.service().UpdateStatus?.State === 'completed' ? h.service().UpdateStatus : undefined));
    assert.equal(st?.Message, 'update completed');
    assert.ok(st?.StartedAt && st.CompletedAt);
    const live = h.live();
    assert.equal(live.length, 3);
    assert.deepEqual(live.map((t) => [t.Slot, t.Spec.ContainerSpec?.Image, t.Status.State, t.internal.specVersion]).sort(), [
      [1, 'nginx:2', 'running', 2],
      [2, 'nginx:2', 'running', 2],
      [3, 'nginx:2', 'running', 2],
    ]);
    // the old tasks were shut down, never more than one slot at a time was being replaced
    const old = h.store.view((tx) => tx.tasksByService('svc').filter((t) => t.ID.startsWith('old')));
    assert.ok(old.every((t) => t.DesiredState === 'shutdown' && t.Status.State === 'shutdown'));
    w.close();
    assert.equal(maxInFlight, 1);
    assert.equal(maxLive, 3);
  } finally {
    h.stop();
  }
});

test('integration: a failing image pauses the update with Docker\'s message', async () => {
  const h = await setup({ bad: ['nginx:bad'] });
  try {
    await h.update('nginx:bad');
    const st = await waitFor('update paused', () => (h.service().UpdateStatus?.State === 'paused' ? h.service().UpdateStatus : undefined));
    assert.match(st?.Message ?? '', /^update paused due to failure or early termination of task [0-9a-z]{25}$/);
    // slots 2 and 3 were never touched
    const running = h.live().filter((t) => t.Status.State === 'running');
    assert.deepEqual(running.map((t) => t.ID).sort(), ['old2', 'old3']);
  } finally {
    h.stop();
  }
});

test('integration: FailureAction rollback restores the previous spec and completes the rollback', async () => {
  const h = await setup({ bad: ['nginx:bad'], spec: { UpdateConfig: { FailureAction: 'rollback', Monitor: 30 * MS }, RollbackConfig: { Parallelism: 0, Monitor: 30 * MS } } });
  try {
    await h.update('nginx:bad');
    await waitFor('rollback completed', () => h.service().UpdateStatus?.State === 'rollback_completed');
    const s = h.service();
    assert.equal(s.Spec.TaskTemplate.ContainerSpec?.Image, 'nginx:1');
    assert.match(s.UpdateStatus?.Message ?? '', /^rollback completed$/);
    // slot 1's failed task is the restart supervisor's (not running in this test); slots 2, 3 are clean
    const ok = h.live().filter((t) => t.Status.State === 'running');
    assert.ok(ok.every((t) => t.Spec.ContainerSpec?.Image === 'nginx:1' && t.internal.specVersion === s.internal.specVersion));
  } finally {
    h.stop();
  }
});

test('a scale-down: the tasks it removes plan nothing as they are wanted removed and shut down', async (t) => {
  const h = await setup({});
  try {
    await h.sup.idle();
    const plans = t.mock.method(planner, 'planUpdate');
    // `docker service scale svc=1` (a new spec version, the task template untouched), and the
    // orchestrator's write before the supervisor's pass: the surplus slots wanted removed
    await h.store.update((tx) => {
      const s = tx.get('service', 'svc') as Service;
      s.Spec.Mode = { Replicated: { Replicas: 1 } };
      s.internal = { specVersion: s.internal.specVersion + 1, previousSpecVersion: s.internal.specVersion };
      tx.update('service', s);
      for (const id of ['old2', 'old3']) tx.update('task', { ...tx.get('task', id)!, DesiredState: 'remove' });
    });
    await new Promise((r) => setImmediate(r));
    await h.sup.idle();
    assert.equal(h.service().UpdateStatus, undefined, 'a scale is no update');
    const afterScale = plans.mock.callCount();
    assert.ok(afterScale >= 1, 'the service event is planned');
    // the removed tasks keep the old spec version; the fake agents shut them down
    await waitFor('surplus tasks shut down', () => h.store.view((tx) => ['old2', 'old3'].every((id) => tx.get('task', id)?.Status.State === 'shutdown')));
    assert.ok(h.store.view((tx) => ['old2', 'old3'].every((id) => tx.get('task', id)!.internal.specVersion === 1)));
    await new Promise((r) => setImmediate(r));
    await h.sup.idle();
    assert.equal(plans.mock.callCount(), afterScale, 'no pass for tasks being removed');
  } finally {
    h.stop();
  }
});

test("node events: Ready → Unknown → Ready, Down and removal plan nothing without an update under way; Down re-plans one under way", async (t) => {
  // an hour between slots: the update stays under way after its first slot
  const h = await setup({ spec: { UpdateConfig: { Parallelism: 1, Delay: 3600 * 1000 * MS, Monitor: 30 * MS } } });
  try {
    await h.sup.idle();
    const plans = t.mock.method(planner, 'planUpdate');
    const setState = async (id: string, state: 'ready' | 'unknown' | 'down') => {
      await h.store.update((tx) => {
        const n = tx.get('node', id)!;
        tx.update('node', { ...n, Status: { ...n.Status, State: state } });
      });
      // the supervisor plans on the watch's next turn
      await new Promise((r) => setImmediate(r));
      await h.sup.idle();
    };
    // what a new leader does to every node: Unknown until its session is back (a pass each was O(tasks))
    await setState('n1', 'unknown');
    await setState('n1', 'ready');
    // a service with no update under way has only clean tasks: a node failure is the restart
    // supervisor's (a pass each was O(tasks): 100 nodes Down at 100,000 tasks, 16 % of the leader)
    await setState('n2', 'down');
    await setState('n2', 'ready');
    assert.equal(plans.mock.callCount(), 0);
    // an update under way: Down is what the planner reads (a stop-first replacement waiting for a task there goes on)
    await h.update('nginx:2');
    await waitFor('update under way', () => h.service().UpdateStatus?.State === 'updating' && h.live().some((t) => t.Spec.ContainerSpec?.Image === 'nginx:2' && t.Status.State === 'running'));
    await h.sup.idle();
    const before = plans.mock.callCount();
    await setState('n3', 'down');
    assert.equal(plans.mock.callCount(), before + 1);
    await setState('n3', 'ready');
    assert.equal(plans.mock.callCount(), before + 2);
    await h.store.update((tx) => tx.delete('node', 'n3'));
    await new Promise((r) => setImmediate(r));
    await h.sup.idle();
    assert.equal(plans.mock.callCount(), before + 3);
  } finally {
    h.stop();
  }
});
