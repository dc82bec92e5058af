import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Task, TaskStatus } from '../types';
import type { TaskController } from './executor/types';
import { TaskManager } from './task-manager';
import { Worker, WORKER_STATE_FILE } from './worker';
import { openState } from '../sys/state-key';
import { ScriptedEngine, ScriptedExecutor } from './executor/testing/scripted-executor';
import { waitFor } from '../testing/wait';

const clock = { now: () => Date.now() };

function makeTask(id: string, image: string, over: Partial<Task> = {}): Task {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Labels: {},
    Spec: { ContainerSpec: { Image: image } },
    ServiceID: 's',
    NodeID: 'n',
    Status: { Timestamp: '', State: 'assigned', Message: 'scheduler assigned task to node' },
    DesiredState: 'running',
    internal: { specVersion: 1, serviceName: 'web' },
    ...over,
  };
}


/** A controller whose every call fails. */
function brokenController(over: Partial<TaskController> = {}): TaskController {
  const fail = async () => {
    throw new Error('engine unreachable');
  };
  return {
    prepare: fail,
    start: fail,
    wait: fail,
    shutdown: fail,
    terminate: fail,
    remove: fail,
    inspect: fail,
    logs: async function* () {
      throw new Error('engine unreachable');
    },
    ...over,
  };
}

test('controller errors become statuses, never exceptions: prepare failure → rejected', async () => {
  const seen: TaskStatus[] = [];
  const m = new TaskManager({ task: makeTask('t', 'x'), controller: brokenController(), report: (_id, s) => seen.push(s), clock });
  m.start();
  await waitFor('rejected', () => m.currentStatus.State === 'rejected');
  assert.deepEqual(seen.map((s) => s.State), ['accepted', 'preparing', 'rejected']);
  assert.equal(m.currentStatus.Err, 'engine unreachable');
  await m.close();
});

test('start failure → failed; failed shutdown falls back to terminate, then gives up without crashing', async () => {
  const started = new TaskManager({
    task: makeTask('t', 'x'),
    controller: brokenController({ prepare: async () => undefined }),
    report: () => undefined,
    clock,
  });
  started.start();
  await waitFor('failed', () => started.currentStatus.State === 'failed');
  await started.close();

  let terminates = 0;
  const m = new TaskManager({
    task: makeTask('t2', 'x', { DesiredState: 'shutdown', Status: { Timestamp: '', State: 'running', Message: 'started' } }),
    controller: brokenController({
      terminate: async () => {
        terminates++;
        throw new Error('nope');
      },
    }),
    report: () => undefined,
    clock,
    retryMs: 1,
  });
  m.start();
  await waitFor('shutdown', () => m.currentStatus.State === 'shutdown');
  assert.ok(terminates >= 1);
  await m.close();
});

test('the step machine drives a scripted controller to running and back down to shutdown', async () => {
  const ex = new ScriptedExecutor(new ScriptedEngine(5));
  const t = makeTask('t', 'busybox');
  const seen: string[] = [];
  const m = new TaskManager({ task: t, controller: ex.controller(t), report: (_id, s) => seen.push(`${s.State}:${s.Message}`), clock });
  m.start();
  await waitFor('running', () => m.currentStatus.State === 'running');
  m.update({ ...t, DesiredState: 'shutdown' });
  await waitFor('shutdown', () => m.currentStatus.State === 'shutdown');
  assert.deepEqual(seen, ['accepted:accepted', 'preparing:preparing', 'ready:prepared', 'starting:starting', 'running:started', 'shutdown:shutdown']);
  assert.equal(ex.engine.count('t', 'shutdown'), 1);
  await m.close();
});

test('a task stopped before any status past ACCEPTED was recorded still stops what an earlier daemon started', async () => {
  // The daemon was killed moments after starting the task: its state file and the manager still say
  // ASSIGNED, the runtime's own record has the process. Desired SHUTDOWN must stop it, not just report it.
  const ex = new ScriptedExecutor(new ScriptedEngine(5));
  const t = makeTask('t', 'busybox', { DesiredState: 'shutdown' });
  ex.engine.create('t').state = 'running';
  for (const adopt of [true, false]) {
    const m = new TaskManager({ task: t, controller: ex.controller(t), report: () => undefined, clock, adopt });
    m.start();
    await waitFor('shutdown', () => m.currentStatus.State === 'shutdown');
    assert.equal(ex.engine.objects.get('t')?.state, 'exited', `adopt ${adopt}: the leftover process is stopped`);
    await m.close();
    ex.engine.objects.get('t')!.state = 'running';
  }
  assert.equal(ex.engine.count('t', 'shutdown'), 2);
  // nothing there: one inspection, no stop
  const u = makeTask('u', 'busybox', { DesiredState: 'shutdown' });
  const m = new TaskManager({ task: u, controller: ex.controller(u), report: () => undefined, clock });
  m.start();
  await waitFor('shutdown', () => m.currentStatus.State === 'shutdown');
  assert.deepEqual(ex.engine.calls.filter((c) => c.taskId === 'u').map((c) => c.op), ['inspect']);
  await m.close();
});

test('a running mesh backend is held for the drain delay before its stop; other tasks are not', async () => {
  const ex = new ScriptedExecutor(new ScriptedEngine(5));
  const ingress = { Protocol: 'tcp' as const, TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' as const };
  const held: string[] = [];
  const logger = { debug: (o: unknown, msg?: string) => void (msg?.includes('holding the stop') && held.push((o as { taskId: string }).taskId)), info: () => undefined, warn: () => undefined, error: () => undefined };
  const run = async (id: string, ports: Task['internal']['ports'], drainDelayMs: number) => {
    const t = makeTask(id, 'busybox', { internal: { specVersion: 1, serviceName: 'web', ports } });
    const m = new TaskManager({ task: t, controller: ex.controller(t), report: () => undefined, clock, logger, drainDelayMs });
    m.start();
    await waitFor(`${id} running`, () => m.currentStatus.State === 'running');
    m.update({ ...t, DesiredState: 'shutdown' });
    return m;
  };
  // An ingress-published task: held (a long delay, so only close() can end the hold), never signalled.
  const mesh = await run('mesh', [ingress], 60_000);
  await waitFor('the hold', () => held.includes('mesh'));
  assert.equal(ex.engine.count('mesh', 'shutdown'), 0, 'no stop signal during the hold');
  await mesh.close();
  assert.equal(ex.engine.count('mesh', 'shutdown'), 0, 'closed during the hold: the worker stops it, not the manager');
  // Host-mode ports and no ports: stopped at once, whatever the delay.
  for (const [id, ports] of [['host', [{ ...ingress, PublishMode: 'host' as const }]], ['none', undefined]] as const) {
    const m = await run(id, ports ? [...ports] : undefined, 60_000);
    await waitFor(`${id} shutdown`, () => m.currentStatus.State === 'shutdown');
    assert.ok(!held.includes(id));
    await m.close();
  }
  // A delay of 0 turns the hold off.
  const off = await run('off', [ingress], 0);
  await waitFor('off shutdown', () => off.currentStatus.State === 'shutdown');
  assert.ok(!held.includes('off'));
  await off.close();
});

test('the drain hold ends once every node acknowledged the task left its mesh; without that word it lasts its bound', async () => {
  const ex = new ScriptedExecutor(new ScriptedEngine(5));
  const ingress = { Protocol: 'tcp' as const, TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' as const };
  const asked: [string, number][] = [];
  const run = (id: string, meshDrained: (taskId: string, waitMs: number) => Promise<boolean>) => {
    const t = makeTask(id, 'busybox', { internal: { specVersion: 1, serviceName: 'web', ports: [ingress] } });
    const m = new TaskManager({
      task: t,
      controller: ex.controller(t),
      report: () => undefined,
      clock,
      drainDelayMs: 60_000,
      meshDrained: (taskId, waitMs) => (asked.push([taskId, waitMs]), meshDrained(taskId, waitMs)),
    });
    m.start();
    return Object.assign(m, { spec: t });
  };
  // acknowledged: stopped long before the 60 s bound
  const acked = run('acked', async () => true);
  await waitFor('acked running', () => acked.currentStatus.State === 'running');
  acked.update({ ...acked.spec, DesiredState: 'shutdown' });
  await waitFor('acked shutdown', () => acked.currentStatus.State === 'shutdown');
  assert.deepEqual(asked, [['acked', 60_000]]);
  await acked.close();
  // not acknowledged (no session, an error): held for the whole bound, so only close() ends it here
  const unknown = run('unknown', async () => false);
  await waitFor('unknown running', () => unknown.currentStatus.State === 'running');
  unknown.update({ ...unknown.spec, DesiredState: 'shutdown' });
  await waitFor('asked', () => asked.length === 2);
  await new Promise((r) => setTimeout(r, 300)); // past the settle time an acknowledgement would have allowed
  assert.equal(ex.engine.count('unknown', 'shutdown'), 0, 'no stop signal during the hold');
  await unknown.close();
  assert.equal(ex.engine.count('unknown', 'shutdown'), 0);
});

test('worker persists its assignment set atomically and re-adopts it', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-worker-'));
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const engine = new ScriptedEngine(5);
  const w = new Worker({ dataDir, executor: new ScriptedExecutor(engine), report: () => undefined, clock });
  await w.init();
  await w.assign({ type: 'complete', updateTasks: [makeTask('a', 'busybox')], removeTasks: [] });
  await waitFor('running', () => w.tasks()[0]?.Status.State === 'running');
  await w.close();
  const file = path.join(dataDir, 'worker', WORKER_STATE_FILE);
  const raw = fs.readFileSync(file);
  assert.ok(!raw.includes('busybox'), 'the task spec is not on disk in plain text');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const state = JSON.parse(openState(dataDir, raw).text);
  assert.equal(state.tasks[0].ID, 'a');
  assert.equal(state.tasks[0].Status.State, 'running');
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'worker')), [WORKER_STATE_FILE]);

  const w2 = new Worker({ dataDir, executor: new ScriptedExecutor(engine), report: () => undefined, clock });
  await w2.init();
  await waitFor('adopted', () => engine.count('a', 'wait') >= 2);
  assert.equal(engine.count('a', 'start'), 1);
  assert.ok(w2.taskController('a'));
  // incremental removal forgets it and removes the runtime object
  await w2.assign({ type: 'incremental', updateTasks: [], removeTasks: ['a'] });
  await waitFor('removed', () => !engine.objects.has('a'));
  assert.equal(w2.taskController('a'), undefined);
  await w2.close();
});
