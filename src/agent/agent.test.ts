import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryStore } from '../store';
import { immediateStore } from '../store/testing/immediate';
import type { Cluster, DispatcherApi, Node, Task, TaskState, TaskStatusUpdate } from '../types';
import { defaultSwarmSpec } from '../types';
import { ManualClock } from '../lib/ports';
import { isKind, ShoalError } from '../lib/errors';
import { waitFor } from '../testing/wait';
import { Dispatcher, HEARTBEAT_FAILURE } from '../manager/dispatcher/dispatcher';
import { Agent, managerAnswer, reconnectDelay } from './agent';
import { ScriptedEngine, ScriptedExecutor } from './executor/testing/scripted-executor';
import { LogBroker } from '../manager/dispatcher/logbroker';
import { AsyncQueue } from '../rpc/queue';
import type { PublishLogsMessage } from '../rpc/protocol';
import type { LogCapableDispatcher } from './remote-dispatcher';

// Agent ⇄ Dispatcher ⇄ MemoryStore, with the scripted executor. Waits are bounded polls.

const clock = { now: () => Date.now() };

async function addCluster(s: MemoryStore, heartbeatMs: number): Promise<void> {
  const spec = defaultSwarmSpec();
  spec.Dispatcher.HeartbeatPeriod = heartbeatMs * 1_000_000;
  const c = { ID: 'cluster1', Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: spec } as unknown as Cluster;
  await s.update((tx) => tx.create('cluster', c));
}

function makeTask(id: string, image: string, over: Partial<Task> = {}): Task {
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    Spec: { ContainerSpec: { Image: image, StopGracePeriod: 1_000_000_000 } },
    ServiceID: 'svc1',
    Slot: 1,
    NodeID: 'node1',
    Status: { Timestamp: '', State: 'assigned', Message: 'scheduler assigned task to node' },
    DesiredState: 'running',
    internal: { specVersion: 1, serviceName: 'web' },
    ...over,
  };
}

interface Rig {
  store: MemoryStore;
  dispatcher: Dispatcher;
  engine: ScriptedEngine;
  dataDir: string;
  agent: Agent;
  api: DispatcherApi;
  calls: TaskStatusUpdate[][];
  newAgent(): Agent;
  task(id: string): Task | undefined;
  node(): Node | undefined;
  waitState(id: string, state: TaskState): Promise<Task>;
  setDesired(id: string, d: TaskState): Promise<void>;
}

async function rig(t: TestContext, opts: { heartbeatMs?: number; start?: boolean; wrap?: (d: DispatcherApi) => DispatcherApi; engine?: ScriptedEngine } = {}): Promise<Rig> {
  const store = immediateStore();
  await addCluster(store, opts.heartbeatMs ?? 1000);
  const dispatcher = new Dispatcher({ store, clock, batchMs: 5, heartbeatEpsilonMs: 50 });
  dispatcher.start();
  const engine = opts.engine ?? new ScriptedEngine(20);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-agent-'));
  const calls: TaskStatusUpdate[][] = [];
  const recording: DispatcherApi = {
    session: (r) => dispatcher.session(r),
    heartbeat: (id) => dispatcher.heartbeat(id),
    assignments: (id, sig) => dispatcher.assignments(id, sig),
    updateTaskStatus: (id, u) => {
      calls.push(u);
      return dispatcher.updateTaskStatus(id, u);
    },
  };
  const api = opts.wrap ? opts.wrap(recording) : recording;
  const agents: Agent[] = [];
  const newAgent = () => {
    const a = new Agent({ dataDir, executor: new ScriptedExecutor(engine), nodeId: 'node1', addr: '127.0.0.1', dispatcher: () => api, clock, statusBatchMs: 20, backoffInitialMs: 10, backoffMaxMs: 100, retryMs: 20 });
    agents.push(a);
    return a;
  };
  const agent = newAgent();
  if (opts.start !== false) await agent.start();
  t.after(async () => {
    for (const a of agents) await a.stop();
    await dispatcher.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const task = (id: string) => store.view((tx) => tx.get('task', id));
  return {
    store,
    dispatcher,
    engine,
    dataDir,
    agent,
    api,
    calls,
    newAgent,
    task,
    node: () => store.view((tx) => tx.get('node', 'node1')),
    waitState: (id, state) => waitFor(`task ${id} ${state}`, () => {
      const x = task(id);
      return x && x.Status.State === state ? x : undefined;
    }),
    setDesired: async (id, d) => {
      await store.update((tx) => {
        const x = tx.get('task', id)!;
        x.DesiredState = d;
        tx.update('task', x);
      });
    },
  };
}

const create = (s: MemoryStore, ...tasks: Task[]) => s.update((tx) => tasks.forEach((t) => tx.create('task', t)));

test('reconnect delays: capped exponential while no manager answers or none knows a leader; short again once one names the leader', () => {
  // random = 1: the top of the jitter range
  const unreachable = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => reconnectDelay(n, 'none', 100, 5000, 1));
  assert.deepEqual(unreachable, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  // "no leader" (an election under way): the retries grow to the cap as well, not 400 ms forever
  const electing = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => reconnectDelay(n, 'no-leader', 100, 5000, 1));
  assert.deepEqual(electing, unreachable);
  assert.equal(reconnectDelay(7, 'no-leader', 100, 5000, 0), 2500, 'jittered: half the cap at the least');
  // After every manager was down (attempt 7), a refusal that names the leader: the next try within 400 ms
  assert.equal(reconnectDelay(7, 'leader-named', 100, 5000, 1), 400);
  assert.equal(reconnectDelay(1, 'leader-named', 100, 5000, 1), 200);
  assert.equal(reconnectDelay(7, 'leader-named', 100, 5000, 0), 200, 'jitter keeps at least half');
});

test('a failed session attempt is read as: the leader named, no leader known, or no answer', () => {
  assert.equal(managerAnswer(new ShoalError('Unavailable', 'dispatcher: this manager is not the leader; the leader is at 10.0.0.2:2377', 'not-leader', '10.0.0.2:2377')), 'leader-named');
  assert.equal(managerAnswer(new ShoalError('Unavailable', 'dispatcher: this manager is not the leader and no leader is known', 'no-leader')), 'no-leader');
  // a new leader whose dispatcher is starting names itself: come back soon, not after a growing backoff
  assert.equal(managerAnswer(new ShoalError('Unavailable', 'dispatcher: this manager just became the leader; its dispatcher is starting', 'leader-starting', '10.0.0.3:2377')), 'leader-named');
  assert.equal(managerAnswer(new ShoalError('Unavailable', 'raft: this manager is not the leader', 'not-leader')), 'no-leader', 'not the leader, but no address: no hint');
  assert.equal(managerAnswer(new ShoalError('Unavailable', 'connect ECONNREFUSED 10.0.0.1:2377')), 'none');
  assert.equal(managerAnswer(new Error('socket hang up')), 'none');
});

/** A dispatcher that refuses every session with `refusal`, recording when each attempt came. */
function refusingDispatcher(refusal: () => Error, times: number[], clock: () => number): DispatcherApi {
  return {
    session: async () => {
      times.push(clock());
      throw refusal();
    },
  } as unknown as DispatcherApi;
}

test('the agent backs off to its cap while managers answer "no leader"', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-agent-backoff-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = async (refusal: () => Error): Promise<number[]> => {
    const times: number[] = [];
    const t0 = performance.now();
    const agent = new Agent({
      dataDir: dir,
      executor: new ScriptedExecutor(new ScriptedEngine()),
      nodeId: 'n1',
      addr: '127.0.0.1',
      dispatcher: () => refusingDispatcher(refusal, times, () => performance.now() - t0),
      clock: { now: () => Date.now() },
      backoffInitialMs: 20,
      backoffMaxMs: 320,
      random: () => 1,
    });
    await agent.start();
    await waitFor('six session attempts', () => (times.length >= 6 ? true : undefined), 30_000);
    await agent.stop();
    return times.slice(0, 6);
  };
  const gaps = (ts: number[]) => ts.slice(1).map((x, i) => x - ts[i]!);
  // no leader known: 20, 40, 80, 160, 320 ms apart at the least (timers never fire early; a loaded
  // machine only adds). Before, the step stopped at 4 × 20 ms: 80, 80, 80.
  const noLeader = gaps(await run(() => new ShoalError('Unavailable', 'dispatcher: this manager is not the leader and no leader is known', 'no-leader')));
  for (const [i, want] of [20, 40, 80, 160, 320].entries()) assert.ok(noLeader[i]! >= want - 2, `gap ${i}: ${noLeader[i]} ms >= ${want} ms (${noLeader.join(', ')})`);
});

test('a task assigned to the node reaches running; the node is registered ready', async (t) => {
  const r = await rig(t);
  await create(r.store, makeTask('t1', 'busybox'));
  const task = await r.waitState('t1', 'running');
  assert.equal(task.Status.Message, 'started');
  assert.ok(task.Status.ContainerStatus?.ContainerID);
  const node = r.node()!;
  assert.equal(node.Status.State, 'ready');
  assert.equal(node.Status.Addr, '127.0.0.1');
  assert.equal(node.Description.Hostname, 'scripted');
  assert.deepEqual(node.Spec, { Role: 'worker', Availability: 'active' });
  assert.equal(r.engine.count('t1', 'start'), 1);
});

test('non-zero exit → failed with Docker error text and exit code', async (t) => {
  const r = await rig(t);
  await create(r.store, makeTask('t1', 'exit:3'));
  const task = await r.waitState('t1', 'failed');
  assert.equal(task.Status.Err, 'task: non-zero exit (3)');
  assert.equal(task.Status.Message, 'started');
  assert.equal(task.Status.ContainerStatus?.ExitCode, 3);
});

test('exit 0 → complete "finished"', async (t) => {
  const r = await rig(t);
  await create(r.store, makeTask('t1', 'exit:0'));
  const task = await r.waitState('t1', 'complete');
  assert.equal(task.Status.Message, 'finished');
});

test('missing image → rejected with the prepare error', async (t) => {
  const r = await rig(t);
  await create(r.store, makeTask('t1', 'missing:1'));
  const task = await r.waitState('t1', 'rejected');
  assert.equal(task.Status.Err, 'No such image: missing:1');
  assert.equal(task.Status.Message, 'preparing');
});

test('desired shutdown → shutdown, container stopped; deletion removes the runtime object', async (t) => {
  const r = await rig(t);
  await create(r.store, makeTask('t1', 'busybox'));
  await r.waitState('t1', 'running');
  await r.setDesired('t1', 'shutdown');
  const task = await r.waitState('t1', 'shutdown');
  assert.equal(task.Status.Message, 'shutdown');
  assert.equal(r.engine.objects.get('t1')?.state, 'exited');
  // history: the exited container stays (logs) until the task is deleted
  const lines: string[] = [];
  for await (const l of r.agent.logs('t1', { follow: false, tail: 'all', timestamps: false })) lines.push(l.data.toString());
  assert.deepEqual(lines, ['hello from t1\n']);
  await r.store.update((tx) => tx.delete('task', 't1'));
  await waitFor('runtime object removed', () => !r.engine.objects.has('t1'));
  await waitFor('agent forgot task', () => !r.agent.tasks().some((x) => x.ID === 't1'));
});

test('desired remove → shutdown, then the runtime object is removed and the task leaves the set', async (t) => {
  const r = await rig(t);
  await create(r.store, makeTask('t1', 'busybox'));
  await r.waitState('t1', 'running');
  await r.setDesired('t1', 'remove');
  await r.waitState('t1', 'shutdown');
  await waitFor('runtime object removed', () => !r.engine.objects.has('t1'));
  await waitFor('agent forgot task', () => !r.agent.tasks().some((x) => x.ID === 't1'));
});

test('desired ready stops at READY until desired running', async (t) => {
  const r = await rig(t);
  await create(r.store, makeTask('t1', 'busybox', { DesiredState: 'ready' }));
  const task = await r.waitState('t1', 'ready');
  assert.equal(task.Status.Message, 'prepared');
  assert.equal(r.engine.count('t1', 'start'), 0);
  await r.setDesired('t1', 'running');
  await r.waitState('t1', 'running');
});

test('health: starting until healthy; unhealthy → failed with Docker text', async (t) => {
  const r = await rig(t);
  const hc = { HealthCheck: { Test: ['CMD', 'true'] } };
  await create(
    r.store,
    makeTask('good', 'healthy', { Spec: { ContainerSpec: { Image: 'healthy', ...hc } } }),
    makeTask('bad', 'unhealthy', { Spec: { ContainerSpec: { Image: 'unhealthy', ...hc } } }),
  );
  const good = await r.waitState('good', 'running');
  await waitFor('health recorded', () => r.task('good')?.internal.health === 'healthy');
  assert.equal(good.Status.Message, 'started');
  const bad = await r.waitState('bad', 'failed');
  assert.equal(bad.Status.Err, 'task: non-zero exit (143): dockerexec: unhealthy container');
});

test('status updates are batched, latest per task', async (t) => {
  const r = await rig(t);
  const ids = ['a', 'b', 'c', 'd', 'e'];
  await create(r.store, ...ids.map((id) => makeTask(id, 'busybox')));
  for (const id of ids) await r.waitState(id, 'running');
  const updates = r.calls.reduce((n, c) => n + c.length, 0);
  // 5 tasks × 5 transitions (accepted, preparing, ready, starting, running) went out in fewer calls
  assert.ok(r.calls.length < 25, `calls=${r.calls.length}`);
  assert.ok(r.calls.some((c) => c.length > 1), 'some call carried several tasks');
  for (const c of r.calls) assert.equal(new Set(c.map((u) => u.taskId)).size, c.length, 'one update per task per call');
  assert.ok(updates >= 5);
});

test('missed heartbeats → node down "heartbeat failure"; the task keeps running', async (t) => {
  let drop = false;
  const r = await rig(t, {
    heartbeatMs: 50,
    wrap: (d) => ({ ...d, heartbeat: (id) => (drop ? new Promise<never>(() => undefined) : d.heartbeat(id)) }),
  });
  await create(r.store, makeTask('t1', 'busybox'));
  await r.waitState('t1', 'running');
  const w = r.store.watch({ kinds: ['node'] });
  t.after(() => w.close());
  drop = true;
  const down = await waitFor('node down', async () => {
    for (const e of w.drain()) {
      const n = e.object as Node;
      if (n.Status.State === 'down') return n;
    }
    return undefined;
  });
  assert.equal(down.Status.Message, HEARTBEAT_FAILURE);
  assert.equal(r.engine.objects.get('t1')?.state, 'running');
});

test('dispatcher with a manual clock: heartbeat expiry and session replacement', async (t) => {
  const store = immediateStore();
  await addCluster(store, 1000);
  const mc = new ManualClock(1_000_000);
  const d = new Dispatcher({ store, clock: mc, heartbeatEpsilonMs: 100, checkIntervalMs: 60_000 });
  d.start();
  t.after(() => d.stop());
  const desc = { Hostname: 'h', Platform: {}, Resources: {}, Engine: { EngineVersion: '1' } };
  const s1 = await d.session({ nodeId: 'n9', description: desc, addr: '10.0.0.9' });
  assert.equal(s1.heartbeatPeriodMs, 1000);
  mc.advance(2000);
  await d.heartbeat(s1.sessionId);
  mc.advance(3100);
  d.checkHeartbeats();
  assert.equal(store.view((tx) => tx.get('node', 'n9'))?.Status.State, 'ready');
  mc.advance(1);
  d.checkHeartbeats();
  await waitFor('node down', () => store.view((tx) => tx.get('node', 'n9'))?.Status.State === 'down');
  await assert.rejects(d.heartbeat(s1.sessionId), (e) => isKind(e, 'NotFound'));
  const s2 = await d.session({ nodeId: 'n9', description: desc, addr: '10.0.0.9' });
  assert.equal(store.view((tx) => tx.get('node', 'n9'))?.Status.State, 'ready');
  const s3 = await d.session({ nodeId: 'n9', description: desc, addr: '10.0.0.9' });
  await assert.rejects(d.heartbeat(s2.sessionId), (e) => isKind(e, 'NotFound'));
  await d.heartbeat(s3.sessionId);
});

test('agent restart re-adopts a running task instead of restarting it, even with no manager reachable', async (t) => {
  const r = await rig(t);
  await create(r.store, makeTask('t1', 'busybox'));
  await r.waitState('t1', 'running');
  await r.agent.stop();
  assert.equal(r.engine.objects.get('t1')?.state, 'running', 'stop leaves tasks running');

  // Restart while no dispatcher answers: the task is re-adopted from the state file.
  let reachable = false;
  const offline = new Agent({
    dataDir: r.dataDir,
    executor: new ScriptedExecutor(r.engine),
    nodeId: 'node1',
    addr: '127.0.0.1',
    dispatcher: () => {
      if (!reachable) throw new Error('no manager');
      return r.api;
    },
    clock,
    statusBatchMs: 20,
    backoffInitialMs: 10,
    backoffMaxMs: 50,
  });
  t.after(() => offline.stop());
  const inspectsBefore = r.engine.count('t1', 'inspect');
  await offline.start();
  await waitFor('re-adopted', () => r.engine.count('t1', 'inspect') > inspectsBefore && offline.tasks().find((x) => x.ID === 't1')?.Status.State === 'running');
  await waitFor('waiting on it', () => r.engine.count('t1', 'wait') >= 2);
  reachable = true;
  await waitFor('connected', () => offline.connected);
  assert.equal(r.engine.count('t1', 'start'), 1, 'not restarted');
  assert.equal(r.engine.objects.get('t1')?.state, 'running');
  assert.equal(r.task('t1')?.Status.State, 'running');
  // The adopted task is live: an exit behind our back is noticed.
  r.engine.exit('t1', 9);
  const task = await r.waitState('t1', 'failed');
  assert.equal(task.Status.Err, 'task: non-zero exit (9)');
});

test('orphans: runtime objects of tasks not assigned are removed after the first complete assignment', async (t) => {
  const engine = new ScriptedEngine(20);
  engine.create('ghost');
  const r = await rig(t, { engine });
  await waitFor('connected', () => r.agent.connected);
  await waitFor('orphan removed', () => !engine.objects.has('ghost'));
});

test('a status update from a node for a task not on it is ignored; never backwards', async (t) => {
  const r = await rig(t, { start: false });
  await create(r.store, makeTask('t1', 'busybox', { NodeID: 'other' }), makeTask('t2', 'busybox', { Status: { Timestamp: '', State: 'running', Message: 'started' } }));
  const desc = { Hostname: 'h', Platform: {}, Resources: {}, Engine: { EngineVersion: '1' } };
  const s = await r.dispatcher.session({ nodeId: 'node1', description: desc, addr: 'x' });
  await r.dispatcher.updateTaskStatus(s.sessionId, [
    { taskId: 't1', status: { Timestamp: '', State: 'failed', Message: 'x' } },
    { taskId: 't2', status: { Timestamp: '', State: 'starting', Message: 'starting' } },
  ]);
  assert.equal(r.task('t1')?.Status.State, 'assigned');
  assert.equal(r.task('t2')?.Status.State, 'running');
});

/**
 * An agent whose dispatcher carries log subscriptions through a real LogBroker: on the assignment stream, as a
 * current manager says in its session, or on a LogSubscriptions stream, as a manager of the previous release.
 */
async function publishedLines(t: TestContext, onAssignments: boolean): Promise<{ lines: string[]; subscriptionStreams: number; broker: LogBroker }> {
  const broker = new LogBroker({ connectWaitMs: 2_000 });
  let subscriptionStreams = 0;
  const r = await rig(t, {
    start: false, // `r` is in use once the agent runs
    wrap: (d): DispatcherApi & LogCapableDispatcher => ({
      ...d,
      session: async (req) => ({ ...(await d.session(req)), ...(onAssignments ? { logSubscriptionsOnAssignments: true } : {}) }),
      // as the RPC handler does: the node's subscriptions ride its assignment stream
      assignments: (id, sig) => r.dispatcher.assignments(id, sig, false, onAssignments ? () => broker.feed('node1') : undefined),
      logSubscriptions: (_id, signal) => {
        subscriptionStreams++;
        return broker.listen('node1', signal);
      },
      publishLogs: (signal) => {
        const q = new AsyncQueue<PublishLogsMessage>();
        const done = broker.publish('node1', q);
        signal.addEventListener('abort', () => q.end(), { once: true });
        return { send: async (m) => q.push(m), end: () => q.end(), cancel: () => q.end(), done };
      },
    }),
  });
  await r.agent.start();
  await create(r.store, makeTask('t1', 'img'));
  await r.waitState('t1', 'running');
  const lines: string[] = [];
  for await (const l of broker.subscribe('node1', ['t1'], { follow: false, tail: 'all', timestamps: false }, AbortSignal.timeout(10_000))) lines.push(l.data.toString());
  return { lines, subscriptionStreams, broker };
}

test("log subscriptions on the assignment stream: the agent publishes a task's lines and opens no stream of subscriptions", async (t) => {
  const { lines, subscriptionStreams, broker } = await publishedLines(t, true);
  assert.deepEqual(lines, ['hello from t1\n'], "the task's line, and the subscription closed by the node");
  assert.equal(subscriptionStreams, 0, 'no LogSubscriptions stream');
  assert.equal(broker.size, 0);
});

test('a manager of the previous release: the agent reads the subscriptions on a LogSubscriptions stream', async (t) => {
  const { lines, subscriptionStreams, broker } = await publishedLines(t, false);
  assert.deepEqual(lines, ['hello from t1\n']);
  assert.equal(subscriptionStreams, 1);
  assert.equal(broker.size, 0);
});
