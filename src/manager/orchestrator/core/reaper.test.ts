import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reapService } from './reaper';
import { enforceNode, ENFORCER_ERR, ENFORCER_MESSAGE } from './enforcer';
import { mkNode, mkService, mkTask, T0 } from './testkit';

const nodes = (...ns: ReturnType<typeof mkNode>[]) => new Map(ns.map((n) => [n.ID, n]));

test('reaper: keeps at most N tasks per slot, deleting the oldest stopped unwanted ones', () => {
  const s = mkService('s');
  const hist = [0, 1, 2, 3, 4, 5, 6].map((i) => mkTask(s, { id: `h${i}`, slot: 1, node: 'A', state: 'failed', desired: 'shutdown', created: T0 + i * 1000 }));
  const live = mkTask(s, { id: 'live', slot: 1, node: 'A', created: T0 + 10_000 });
  const other = [0, 1].map((i) => mkTask(s, { id: `o${i}`, slot: 2, node: 'A', state: 'complete', desired: 'shutdown', created: T0 + i }));
  const stillStopping = mkTask(s, { id: 'stopping', slot: 1, node: 'A', state: 'running', desired: 'shutdown', created: T0 - 1 });
  const out = reapService({ tasks: [...hist, live, ...other, stillStopping], nodes: nodes(mkNode('A')), retention: 5 });
  // slot 1 has 9 tasks; 4 must go, the oldest stopped ones (not the still-running one)
  assert.deepEqual(out, ['h0', 'h1', 'h2', 'h3']);
  assert.deepEqual(reapService({ tasks: hist, nodes: nodes(mkNode('A')), retention: 0 }).length, 7);
  assert.deepEqual(reapService({ tasks: hist, nodes: nodes(mkNode('A')), retention: -1 }), []);
});

test('reaper: REMOVE tasks go once stopped, never assigned, or their node is gone/down', () => {
  const s = mkService('s');
  const ts = [
    mkTask(s, { id: 'stopped', slot: 3, node: 'A', state: 'shutdown', desired: 'remove' }),
    mkTask(s, { id: 'running', slot: 4, node: 'A', state: 'running', desired: 'remove' }),
    mkTask(s, { id: 'pending', slot: 5, state: 'pending', desired: 'remove' }),
    mkTask(s, { id: 'downnode', slot: 6, node: 'D', state: 'running', desired: 'remove' }),
    mkTask(s, { id: 'gonenode', slot: 7, node: 'X', state: 'running', desired: 'remove' }),
  ];
  assert.deepEqual(reapService({ tasks: ts, nodes: nodes(mkNode('A'), mkNode('D', { state: 'down' })), retention: 5 }), ['downnode', 'gonenode', 'pending', 'stopped']);
});

test('enforcer: rejects tasks whose node lost a label or no longer fits their reservations (newest first)', () => {
  const s = mkService('s', { spec: { Placement: { Constraints: ['node.labels.ssd==true'] } } });
  const r = mkService('r', { spec: { Resources: { Reservations: { NanoCPUs: 2e9 } } } });
  const node = mkNode('A', { labels: {}, cpu: 3e9 });
  const tasks = [
    mkTask(s, { id: 'c1', slot: 1, node: 'A' }),
    mkTask(r, { id: 'r1', slot: 1, node: 'A', created: T0 }),
    mkTask(r, { id: 'r2', slot: 2, node: 'A', created: T0 + 1 }),
    mkTask(r, { id: 'done', slot: 3, node: 'A', state: 'failed', created: T0 + 2 }),
    mkTask(r, { id: 'pend', slot: 4, state: 'pending', created: T0 + 3 }),
  ];
  const out = enforceNode(node, tasks, T0 + 5);
  assert.deepEqual(out.map((m) => m.op === 'update' && [m.task.ID, m.task.Status.State, m.task.DesiredState, m.task.Status.Message, m.task.Status.Err]).sort(), [
    ['c1', 'rejected', 'running', ENFORCER_MESSAGE, ENFORCER_ERR],
    ['r2', 'rejected', 'running', ENFORCER_MESSAGE, ENFORCER_ERR],
  ]);
  assert.deepEqual(enforceNode(mkNode('A', { labels: { ssd: 'TRUE' } }), [tasks[0]!], T0), []);
});
