import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Task, TaskStatus } from '../types';
import type { TaskController } from './executor/types';
import { TaskManager } from './task-manager';
import { Worker, WORKER_STATE_FILE } from './worker';
import { ScriptedEngine, ScriptedExecutor } from './scripted-executor';
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
  const state = JSON.parse(fs.readFileSync(file, 'utf8'));
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
