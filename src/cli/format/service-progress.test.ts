import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plainText, ServiceProgress, truncError, TtyRenderer, type Step } from './service-progress';
import type { ApiService } from './services';
import type { ApiTask } from './tasks';

const svc = (mode: ApiService['Spec']['Mode'], extra: Partial<ApiService> = {}): ApiService => ({
  ID: 'svc1',
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Name: 'web', TaskTemplate: {}, Mode: mode, UpdateConfig: { Monitor: 2e9 } },
  Endpoint: { Spec: {} },
  ...extra,
});
let n = 0;
const task = (slot: number, state: ApiTask['Status']['State'], o: Partial<ApiTask> = {}): ApiTask => ({
  ID: `t${n++}`,
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  Labels: {},
  Spec: {},
  ServiceID: 'svc1',
  Slot: slot,
  NodeID: 'node1',
  Status: { Timestamp: '', State: state, Message: '' },
  DesiredState: 'running',
  ...o,
});
const nodes = new Set(['node1', 'node2']);
const text = (s: Step) => s.out.map(plainText).join('');

/** Runs polls (service, then tasks) at the given times; returns the plain text printed and the last step. */
function run(p: ServiceProgress, polls: { s: ApiService; tasks: ApiTask[]; at: number }[]): { out: string; last: Step } {
  let out = '';
  let last: Step = { out: [] };
  for (const { s, tasks, at } of polls) {
    last = p.service(s, at);
    out += text(last);
    if (last.done || last.error) break;
    last = p.tasks(tasks, nodes, at);
    out += text(last);
    if (last.done) break;
  }
  return { out, last };
}

test('replicated: slots announced, bars hidden without a terminal, counted, verified for the monitor period', () => {
  const s = svc({ Replicated: { Replicas: 2 } });
  const r = run(new ServiceProgress('svc1'), [
    { s, tasks: [task(1, 'preparing'), task(2, 'pending')], at: 0 },
    { s, tasks: [task(1, 'running'), task(2, 'starting')], at: 200 },
    { s, tasks: [task(1, 'running'), task(2, 'running')], at: 400 },
    { s, tasks: [task(1, 'running'), task(2, 'running')], at: 1400 },
    { s, tasks: [task(1, 'running'), task(2, 'running')], at: 2400 },
  ]);
  assert.equal(
    r.out,
    [
      'overall progress: 0 out of 2 tasks',
      '1/2:  ',
      '2/2:  ',
      'overall progress: 0 out of 2 tasks',
      'overall progress: 1 out of 2 tasks',
      'overall progress: 2 out of 2 tasks',
      'verify: Waiting 2 seconds to verify that tasks are stable...',
      'verify: Waiting 1 seconds to verify that tasks are stable...',
      'verify: Service svc1 converged',
      '',
    ].join('\n'),
  );
  assert.equal(r.last.done, true);
});

test('a task failing during verification restarts it; task errors are shown, cut to 75 bytes', () => {
  const s = svc({ Replicated: { Replicas: 1 } });
  const long = 'x'.repeat(80);
  const r = run(new ServiceProgress('web'), [
    { s, tasks: [task(1, 'running')], at: 0 },
    { s, tasks: [task(1, 'failed', { Status: { Timestamp: '', State: 'failed', Message: '', Err: long } })], at: 200 },
  ]);
  assert.match(r.out, /verify: Waiting 2 seconds.*\n1\/1: x{74}…\noverall progress: 0 out of 1 tasks\nverify: Detected task failure\n$/);
  assert.equal(truncError('a\nb'), 'a b');
});

test('update states: paused is an error, a completed update before convergence ends quietly, rollback messages', () => {
  const paused = svc({ Replicated: { Replicas: 1 } }, { UpdateStatus: { State: 'paused', Message: 'update paused due to failure or early termination of task x' } });
  assert.equal(new ServiceProgress('web').service(paused, 0).error, 'service update paused: update paused due to failure or early termination of task x');
  assert.deepEqual(new ServiceProgress('web').service(svc({ Replicated: { Replicas: 1 } }, { UpdateStatus: { State: 'completed' } }), 0), { out: [], done: true });
  const started = svc({ Replicated: { Replicas: 1 } }, { UpdateStatus: { State: 'rollback_started', Message: 'manually requested rollback' } });
  const done = svc({ Replicated: { Replicas: 1 } }, { UpdateStatus: { State: 'rollback_completed', Message: 'rollback completed' } });
  const r = run(new ServiceProgress('web'), [
    { s: started, tasks: [task(1, 'starting')], at: 0 },
    // "rollback completed" is kept for the end only when seen before the tasks converged.
    { s: done, tasks: [task(1, 'running')], at: 200 },
    { s: done, tasks: [task(1, 'running')], at: 2200 },
  ]);
  assert.equal(
    r.out,
    'rollback: manually requested rollback\noverall progress: rolling back update: 0 out of 1 tasks\n1/1:  \noverall progress: rolling back update: 0 out of 1 tasks\n' +
      'overall progress: rolling back update: 1 out of 1 tasks\nverify: Waiting 2 seconds to verify that tasks are stable...\nverify: Service web converged\nrollback: rollback completed\n',
  );
});

test('global: waits for tasks, then counts nodes', () => {
  const s = svc({ Global: {} });
  const r = run(new ServiceProgress('svc1'), [
    { s, tasks: [], at: 0 },
    { s, tasks: [task(0, 'running', { NodeID: 'node1' }), task(0, 'assigned', { NodeID: 'node2' })], at: 200 },
  ]);
  assert.equal(r.out, 'overall progress: waiting for new tasks\noverall progress: 0 out of 2 tasks\noverall progress: 1 out of 2 tasks\n');
});

test('replicated job: active tasks shown, the job bar hidden, "job complete" at the end', () => {
  const s = svc({ ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 2 } }, { JobStatus: { JobIteration: { Index: 0 } } });
  const jt = (slot: number, state: ApiTask['Status']['State']) => task(slot, state, { JobIteration: { Index: 0 }, DesiredState: 'complete' });
  const r = run(new ServiceProgress('svc1'), [
    { s, tasks: [jt(0, 'running'), jt(1, 'running')], at: 0 },
    { s, tasks: [jt(0, 'complete'), jt(1, 'complete')], at: 200 },
  ]);
  assert.equal(r.out, 'active tasks: 0 out of 2 tasks\n1/2:  \n2/2:  \nactive tasks: 2 out of 2 tasks\nactive tasks: 0 out of 0 tasks\njob complete\n');
});

test('replicated job, first iteration as the daemon sends it (Go omits Index 0: JobIteration {}): still followed to "job complete"', () => {
  const s = svc({ ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 2 } }, { JobStatus: { JobIteration: {} } as ApiService['JobStatus'] });
  const jt = (slot: number, state: ApiTask['Status']['State']) => task(slot, state, { JobIteration: {} as ApiTask['JobIteration'], DesiredState: 'complete' });
  const r = run(new ServiceProgress('svc1'), [{ s, tasks: [jt(0, 'complete'), jt(1, 'complete')], at: 0 }]);
  assert.match(r.out, /^job complete$/m);
});

test('terminal rendering: each ID keeps its line and is redrawn in place; bars when wider than 110', () => {
  const t = new TtyRenderer(120);
  assert.equal(t.render({ id: 'overall progress', action: '0 out of 1 tasks' }), '\n\x1b[1A\x1b[2K\roverall progress: 0 out of 1 tasks \r\x1b[1B');
  assert.equal(t.render({ id: '1/1', action: 'running  ', current: 9, total: 9 }), `\n\x1b[1A\x1b[2K\r1/1: running   [${'='.repeat(50)}>] \r\x1b[1B`);
  assert.equal(t.render({ id: 'overall progress', action: '1 out of 1 tasks' }), '\x1b[2A\x1b[2K\roverall progress: 1 out of 1 tasks \r\x1b[2B');
  assert.equal(new TtyRenderer(80).render({ id: '1/1', action: 'running', current: 9, total: 9 }), '\n\x1b[1A\x1b[2K\r1/1: running \r\x1b[1B');
  assert.equal(t.render({ id: '', message: 'job complete' }), 'job complete\n');
});
