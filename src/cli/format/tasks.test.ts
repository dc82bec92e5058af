import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currentStateText, errorText, formatTaskTable, taskName, type ApiTask } from './tasks';

const NOW = Date.parse('2024-05-01T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

function task(id: string, slot: number, state: ApiTask['Status']['State'], desired: ApiTask['DesiredState'], secondsAgo: number, extra: Partial<ApiTask> = {}): ApiTask {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: ago(secondsAgo),
    UpdatedAt: ago(secondsAgo),
    Labels: {},
    Spec: { ContainerSpec: { Image: 'busybox:latest@sha256:abcdef' } },
    ServiceID: 'svc1',
    Slot: slot,
    NodeID: 'node1',
    Status: { Timestamp: ago(secondsAgo), State: state, Message: '' },
    DesiredState: desired,
    ...extra,
  };
}

test('task names: service.slot for replicated, service.node for global', () => {
  assert.equal(taskName('web', { Slot: 3, NodeID: 'n' }), 'web.3');
  assert.equal(taskName('web', { NodeID: 'abc' }), 'web.abc');
});

test('current state reads like Docker: capitalised state, lower-case duration', () => {
  assert.equal(currentStateText('running', ago(5), NOW), 'Running 5 seconds ago');
  assert.equal(currentStateText('running', ago(0), NOW), 'Running less than a second ago');
  assert.equal(currentStateText('shutdown', ago(70), NOW), 'Shutdown about a minute ago');
  assert.equal(currentStateText('pending', undefined, NOW), 'Pending');
});

test('errors are quoted and cut at 30 characters', () => {
  assert.equal(errorText(undefined), '');
  assert.equal(errorText('task: non-zero exit (1)'), '"task: non-zero exit (1)"');
  assert.equal(errorText('no suitable node (scheduling constraints not satisfied on 1 node)'), '"no suitable node (scheduling …"');
});

test('service ps table: slot order, newest first, history indented', () => {
  const tasks = [
    task('t2aaaaaaaaaaaaaaaaaaaaaaa', 2, 'running', 'running', 5),
    task('t1oldaaaaaaaaaaaaaaaaaaaa', 1, 'failed', 'shutdown', 30, { Status: { Timestamp: ago(30), State: 'failed', Message: '', Err: 'task: non-zero exit (1)' } }),
    task('t1aaaaaaaaaaaaaaaaaaaaaaa', 1, 'running', 'running', 10),
  ];
  const out = formatTaskTable(tasks, { serviceNames: new Map([['svc1', 'web']]), nodeNames: new Map([['node1', 'demo-node']]), nowMs: NOW });
  const want = [
    'ID             NAME        IMAGE            NODE        DESIRED STATE   CURRENT STATE            ERROR                       PORTS',
    't1aaaaaaaaaa   web.1       busybox:latest   demo-node   Running         Running 10 seconds ago                               ',
    't1oldaaaaaaa    \\_ web.1   busybox:latest   demo-node   Shutdown        Failed 30 seconds ago    "task: non-zero exit (1)"   ',
    't2aaaaaaaaaa   web.2       busybox:latest   demo-node   Running         Running 5 seconds ago                                ',
    '',
  ].join('\n');
  assert.equal(out, want);
});

test('rows sort as the docker CLI sorts them: by task name in natural order (not by service ID), newest first within a name', () => {
  const serviceNames = new Map([['svc-a', 'stack_web'], ['svc-b', 'stack_db']]);
  const rows = formatTaskTable(
    [
      task('t-web10', 10, 'running', 'running', 5, { ServiceID: 'svc-a' }),
      task('t-web2', 2, 'running', 'running', 5, { ServiceID: 'svc-a' }),
      task('t-db1-old', 1, 'shutdown', 'shutdown', 60, { ServiceID: 'svc-b' }),
      task('t-db1-new', 1, 'running', 'running', 5, { ServiceID: 'svc-b' }),
    ],
    { serviceNames, nodeNames: new Map(), nowMs: NOW },
  )
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => l.split(/\s{2,}/).slice(0, 2).join(' '));
  assert.deepEqual(rows, ['t-db1-new stack_db.1', 't-db1-old \\_ stack_db.1', 't-web2 stack_web.2', 't-web10 stack_web.10']);
});
