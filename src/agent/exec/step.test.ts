import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskState, TaskStatus } from '../../types';
import { decide, isForward, stopGraceMs, hasHealthTest, type StepFacts, type StepInput, UNHEALTHY_ERR } from './step';

const NOW = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
const st = (State: TaskState, Message = '', extra: Partial<TaskStatus> = {}): TaskStatus => ({ Timestamp: 'x', State, Message, ...extra });
const inp = (desired: TaskState, status: TaskStatus, facts: StepFacts = {}, healthCheck = false): StepInput => ({ desired, status, facts, healthCheck, now: NOW });

/** What a runtime does when asked: scripted outcomes per operation. */
interface Script {
  prepareErr?: string;
  startErr?: string;
  exit?: { exitCode: number; error?: string };
  health?: ('healthy' | 'unhealthy')[];
  shutdownErr?: boolean;
  /** The runtime already runs the task (started by a daemon that died before it recorded any status). */
  leftover?: boolean;
}

/**
 * Drives the step machine like a task manager would, with a scripted runtime, and returns a golden
 * transcript: one line per step, "action" or "action -> state message [err]".
 */
function drive(desired: TaskState, script: Script, opts: { healthCheck?: boolean; start?: TaskStatus; facts?: StepFacts; maxSteps?: number; desiredAfterRunning?: TaskState } = {}): string[] {
  let status = opts.start ?? st('assigned', 'scheduler assigned task to node');
  const facts: StepFacts = { ...opts.facts };
  const health = [...(script.health ?? [])];
  const out: string[] = [];
  let shutdownErr = script.shutdownErr ?? false;
  for (let i = 0; i < (opts.maxSteps ?? 30); i++) {
    const step = decide(inp(desired, status, facts, opts.healthCheck ?? false));
    if (step.status) {
      assert.ok(isForward(status, step.status), `backwards: ${status.State} -> ${step.status.State}`);
      status = step.status;
      out.push(`${step.action} -> ${status.State} ${status.Message}${status.Err ? ` [${status.Err}]` : ''}${status.ContainerStatus?.ExitCode !== undefined ? ` (exit ${status.ContainerStatus.ExitCode})` : ''}`);
      if (status.State === 'running' && opts.desiredAfterRunning) desired = opts.desiredAfterRunning;
      continue;
    }
    out.push(step.action);
    switch (step.action) {
      case 'prepare':
        if (script.prepareErr) facts.error = script.prepareErr;
        else facts.prepared = true;
        break;
      case 'start':
        if (script.startErr) facts.error = script.startErr;
        else facts.started = true;
        break;
      case 'wait': {
        const h = health.shift();
        if (h) {
          facts.health = h;
          if (h === 'unhealthy') facts.unhealthy = true;
        } else if (facts.unhealthy) facts.exit = { exitCode: 143 };
        else if (script.exit) facts.exit = script.exit;
        else return out;
        break;
      }
      case 'shutdown':
        if (shutdownErr) {
          facts.shutdownFailed = true;
          shutdownErr = false;
        } else facts.stopped = true;
        break;
      case 'terminate':
        facts.stopped = true;
        break;
      case 'remove':
        facts.removed = true;
        break;
      case 'inspect':
        // what an earlier daemon left, if anything
        if (script.leftover) {
          facts.prepared = true;
          facts.started = true;
        } else facts.absent = true;
        break;
      case 'none':
        return out;
      default:
        break;
    }
  }
  return out;
}

test('golden: desired running, runs until waited on', () => {
  assert.deepEqual(drive('running', {}), [
    'accept -> accepted accepted',
    'report -> preparing preparing',
    'prepare',
    'report -> ready prepared',
    'report -> starting starting',
    'start',
    'report -> running started',
    'wait',
  ]);
});

test('golden: exit 0 -> complete finished', () => {
  assert.deepEqual(drive('running', { exit: { exitCode: 0 } }).slice(-3), ['wait', 'report -> complete finished (exit 0)', 'none']);
});

test('golden: non-zero exit -> failed with Docker text, message stays "started"', () => {
  assert.deepEqual(drive('running', { exit: { exitCode: 3 } }).slice(-3), ['wait', 'report -> failed started [task: non-zero exit (3)] (exit 3)', 'none']);
});

test('golden: executor-provided exit error text is kept', () => {
  assert.deepEqual(drive('running', { exit: { exitCode: 137, error: 'task: non-zero exit (137)' } }).slice(-2), ['report -> failed started [task: non-zero exit (137)] (exit 137)', 'none']);
});

test('golden: prepare fails -> rejected with the error, message "preparing"', () => {
  assert.deepEqual(drive('running', { prepareErr: 'No such image: nope:latest' }), [
    'accept -> accepted accepted',
    'report -> preparing preparing',
    'prepare',
    'report -> rejected preparing [No such image: nope:latest]',
    'none',
  ]);
});

test('golden: start fails -> failed (swarmkit: from STARTING on a fatal error is FAILED)', () => {
  assert.deepEqual(drive('running', { startErr: 'starting container failed: boom' }).slice(-3), ['start', 'report -> failed starting [starting container failed: boom]', 'none']);
});

test('golden: desired ready stops at READY (restart delay), then starts when desired becomes running', () => {
  const t = drive('ready', {});
  assert.deepEqual(t, ['accept -> accepted accepted', 'report -> preparing preparing', 'prepare', 'report -> ready prepared', 'none']);
  const s = decide(inp('running', st('ready', 'prepared'), { prepared: true }));
  assert.equal(s.status?.State, 'starting');
});

test('golden: health check keeps STARTING until healthy', () => {
  assert.deepEqual(drive('running', { health: ['healthy'] }, { healthCheck: true }), [
    'accept -> accepted accepted',
    'report -> preparing preparing',
    'prepare',
    'report -> ready prepared',
    'report -> starting starting',
    'start',
    'wait',
    'report -> running started',
    'wait',
  ]);
});

test('golden: unhealthy -> container stopped -> failed with Docker unhealthy text', () => {
  const t = drive('running', { health: ['healthy', 'unhealthy'] }, { healthCheck: true });
  assert.deepEqual(t.slice(-5), ['wait', 'shutdown', 'wait', `report -> failed started [task: non-zero exit (143): ${UNHEALTHY_ERR}] (exit 143)`, 'none']);
});

test('golden: unhealthy while starting fails too', () => {
  const t = drive('running', { health: ['unhealthy'] }, { healthCheck: true });
  assert.deepEqual(t.slice(-4), ['shutdown', 'wait', `report -> failed starting [task: non-zero exit (143): ${UNHEALTHY_ERR}] (exit 143)`, 'none']);
});

test('golden: desired shutdown of a running task -> shutdown', () => {
  const t = drive('running', {}, { desiredAfterRunning: 'shutdown' });
  assert.deepEqual(t.slice(-4), ['report -> running started', 'shutdown', 'report -> shutdown shutdown', 'none']);
});

test('golden: desired remove -> shutdown, then runtime object removed', () => {
  const t = drive('running', {}, { desiredAfterRunning: 'remove' });
  assert.deepEqual(t.slice(-5), ['report -> running started', 'shutdown', 'report -> shutdown shutdown', 'remove', 'none']);
});

test('golden: failed graceful shutdown falls back to terminate', () => {
  const t = drive('running', { shutdownErr: true }, { desiredAfterRunning: 'shutdown' });
  assert.deepEqual(t.slice(-4), ['shutdown', 'terminate', 'report -> shutdown shutdown', 'none']);
});

test('shutdown before PREPARING: the runtime is asked once; nothing there is SHUTDOWN at once, something there is stopped', () => {
  for (const cur of ['assigned', 'accepted'] as const) {
    assert.equal(decide(inp('shutdown', st(cur))).action, 'inspect', cur);
    const s = decide(inp('shutdown', st(cur), { absent: true }));
    assert.equal(s.action, 'report');
    assert.equal(s.status?.State, 'shutdown');
    assert.equal(s.status?.Message, 'shutdown');
    // an earlier daemon started it and died before any later status was written anywhere
    assert.equal(decide(inp('shutdown', st(cur), { prepared: true, started: true })).action, 'shutdown', cur);
    assert.equal(decide(inp('remove', st(cur), { prepared: true })).action, 'shutdown', cur);
  }
});

test('golden: desired shutdown before PREPARING, with and without what a killed daemon left running', () => {
  assert.deepEqual(drive('shutdown', {}), ['inspect', 'report -> shutdown shutdown', 'none']);
  assert.deepEqual(drive('shutdown', { leftover: true }), ['inspect', 'shutdown', 'report -> shutdown shutdown', 'none']);
  assert.deepEqual(drive('shutdown', { leftover: true }, { start: st('accepted', 'accepted') }), ['inspect', 'shutdown', 'report -> shutdown shutdown', 'none']);
});

test('a shutdown wins over an exit seen at the same time', () => {
  const s = decide(inp('shutdown', st('running', 'started'), { started: true, exit: { exitCode: 1 } }));
  assert.equal(s.action, 'shutdown');
});

test('terminal statuses never change', () => {
  for (const state of ['complete', 'failed', 'shutdown', 'rejected', 'orphaned'] as TaskState[]) {
    for (const desired of ['running', 'ready', 'shutdown'] as TaskState[]) {
      assert.deepEqual(decide(inp(desired, st(state), { exit: { exitCode: 1 }, error: 'x' })), { action: 'none' });
    }
    assert.deepEqual(decide(inp('remove', st(state))), { action: 'remove' });
    assert.deepEqual(decide(inp('remove', st(state), { removed: true })), { action: 'none' });
  }
});

test('adopted running task keeps waiting (no restart)', () => {
  assert.deepEqual(decide(inp('running', st('running', 'started'), { prepared: true, started: true })), { action: 'wait' });
});

test('reported statuses carry timestamp and container status', () => {
  const s = decide(inp('running', st('starting', 'starting'), { prepared: true, started: true, container: { ContainerID: 'c1', PID: 42 } }));
  assert.equal(s.status?.Timestamp, '2024-01-02T03:04:05.678000000Z');
  assert.deepEqual(s.status?.ContainerStatus, { ContainerID: 'c1', PID: 42 });
});

test('isForward', () => {
  assert.equal(isForward(st('running', 'started'), st('starting', 'starting')), false);
  assert.equal(isForward(st('running', 'started'), st('running', 'started')), false);
  assert.equal(isForward(st('running', 'started'), st('failed', 'started', { Err: 'x' })), true);
  assert.equal(isForward(st('running', 'started'), st('running', 'started', { ContainerStatus: { PID: 3 } })), true);
});

test('stopGraceMs and hasHealthTest', () => {
  assert.equal(stopGraceMs(undefined), 10_000);
  assert.equal(stopGraceMs(2_000_000_000), 2000);
  assert.equal(stopGraceMs(0), 0);
  assert.equal(hasHealthTest(undefined), false);
  assert.equal(hasHealthTest(['NONE']), false);
  assert.equal(hasHealthTest(['CMD', 'true']), true);
});

test('golden: desired complete (a job task) runs like running and reports its exit', () => {
  assert.deepEqual(drive('complete', { exit: { exitCode: 0 } }).slice(-4), ['report -> running started', 'wait', 'report -> complete finished (exit 0)', 'none']);
  assert.deepEqual(drive('complete', { exit: { exitCode: 2 } }).slice(-2), ['report -> failed started [task: non-zero exit (2)] (exit 2)', 'none']);
});
