import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { assertGolden, sourceDirOf } from '../../testing/golden';
import {
  ALREADY_IN_SWARM,
  LEAVE_LOCKED,
  NOT_IN_SWARM,
  initialRoleMachine,
  managerStats,
  transition,
  type RoleEffect,
  type RoleEvent,
  type RoleMachine,
  type SwarmState,
} from './roles-machine';

// Golden transitions of the role machine: each scenario is one command from a stable phase, the
// outcome the driver reports for every batch of effects, and each step the machine takes (phase and
// flow step, what it persists, the effects it asks for, how the caller is answered). Regenerate with
// UPDATE_GOLDEN=1 after checking the diff.

const GOLDEN = path.join(sourceDirOf(__dirname), 'testdata', 'roles-machine.golden');

const worker: SwarmState = { nodeId: 'n1', clusterId: 'c1', role: 'worker', advertiseAddr: '10.0.0.2:2377', listenAddr: '0.0.0.0:2377', managers: [{ nodeId: 'm1', addr: '10.0.0.1:2377' }] };
const manager: SwarmState = { nodeId: 'n1', clusterId: 'c1', role: 'manager', advertiseAddr: '10.0.0.2:2377', listenAddr: '0.0.0.0:2377' };
const STABLE = new Set(['inactive', 'locked', 'worker', 'manager']);

/** What the driver reports for one batch of effects. */
type Outcome = { done: unknown } | { failed: string };
const done = (v?: unknown): Outcome => ({ done: v });
const failed = (msg: string): Outcome => ({ failed: msg });

const show = (v: unknown): string => (v instanceof Error ? `${v.name}: ${v.message}` : JSON.stringify(v) ?? 'undefined');

function where(m: RoleMachine): string {
  const role = m.swarm ? `${m.swarm.role}${m.swarm.managers ? `(${m.swarm.managers.map((x) => x.addr).join(',')})` : ''}` : '-';
  return `${m.phase}${m.flow ? `/${m.flow.step}` : ''} [${role}]`;
}

function effect(e: RoleEffect): string {
  switch (e.do) {
    case 'startRoles':
      return `startRoles(${e.swarm.role}${e.raft ? ` ${e.raft.kind}${e.raft.kind === 'join' ? ` ${e.raft.remote}` : ''}${e.raft.kind === 'force-new-cluster' ? ` @${e.raft.appliedIndex}` : ''}` : ''}${e.lockedMeansBadKey ? ' lockedMeansBadKey' : ''})`;
    case 'log':
      return `log.${e.level}(${e.msg})`;
    case 'removeTasks':
      return `removeTasks(${show(e.tasks)})`;
    default:
      return e.do;
  }
}

function eventText(e: RoleEvent): string {
  if (e.on === 'done') return `done(${show(e.value)})`;
  if (e.on === 'failed') return `failed(${show(e.error)})`;
  const { on, ...rest } = e;
  const args = Object.entries(rest)
    .filter(([k]) => k !== 'req')
    .map(([k, v]) => `${k}=${k === 'saved' ? (v ? (v as SwarmState).role : '-') : show(v)}`);
  return `${on}${args.length ? `(${args.join(' ')})` : ''}`;
}

/** Runs one command to its end, answering each batch of effects with the next outcome; returns the trace lines. */
function scenario(name: string, start: RoleMachine, command: RoleEvent, outcomes: Outcome[]): { lines: string[]; end: RoleMachine } {
  const lines = [`## ${name}`];
  let m = start;
  let e: RoleEvent = command;
  const left = [...outcomes];
  for (let i = 0; i < 50; i++) {
    const t = transition(m, e);
    const parts = [`${where(m)} --${eventText(e)}--> ${where(t.machine)}`];
    if (t.persist) parts.push(`persist=${t.persist}`);
    if (t.effects.length) parts.push(`do: ${t.effects.map(effect).join(', ')}`);
    if (t.settle) parts.push('error' in t.settle ? `answer error(${show(t.settle.error)})` : `answer ok(${show(t.settle.ok)})`);
    lines.push('  ' + parts.join('  '));
    m = t.machine;
    if (t.settle) {
      assert.equal(left.length, 0, `${name}: outcomes left over`);
      assert.ok(STABLE.has(m.phase) && !m.flow, `${name}: ends in a stable phase (${m.phase})`);
      return { lines, end: m };
    }
    const o = left.shift();
    assert.ok(o, `${name}: no outcome for ${t.effects.map(effect).join(', ')}`);
    e = 'done' in o ? { on: 'done', value: o.done } : { on: 'failed', error: new Error(o.failed) };
  }
  assert.fail(`${name}: no end`);
}

const at = (phase: RoleMachine['phase'], swarm?: SwarmState): RoleMachine => ({ phase, ...(swarm ? { swarm } : {}) });
const initPlan = { state: manager, material: {} };
const enrolled = (s: SwarmState) => ({ state: s, remote: '10.0.0.1:2377' });

test('golden: role machine transitions', () => {
  const out: string[] = [];
  const run = (...a: Parameters<typeof scenario>) => out.push(...scenario(...a).lines, '');
  run('resume: no swarm.json', initialRoleMachine(), { on: 'resume', saved: undefined, sealed: false }, []);
  run('resume: a worker', initialRoleMachine(), { on: 'resume', saved: worker, sealed: false }, [done()]);
  run('resume: a manager with a sealed key', initialRoleMachine(), { on: 'resume', saved: manager, sealed: true }, []);
  run('resume: the manager cannot start', initialRoleMachine(), { on: 'resume', saved: manager, sealed: false }, [failed('raft log unreadable')]);

  run('unlock: off any swarm', at('inactive'), { on: 'unlock', key: 'K' }, []);
  run('unlock: a worker', at('worker', worker), { on: 'unlock', key: 'K' }, []);
  run('unlock: a manager not locked', at('manager', manager), { on: 'unlock', key: 'K' }, []);
  run('unlock: wrong key', at('locked', manager), { on: 'unlock', key: 'K' }, [failed('swarm could not be unlocked: invalid key provided')]);
  run('unlock: right key', at('locked', manager), { on: 'unlock', key: 'K' }, [done(), done()]);
  run('unlock: the DEK stays sealed', at('locked', manager), { on: 'unlock', key: 'K' }, [done(), failed('swarm could not be unlocked: invalid key provided'), done()]);

  run('init', at('inactive'), { on: 'init', forceNewCluster: false, req: {} }, [done(initPlan), done(), done()]);
  run('init: invalid request', at('inactive'), { on: 'init', forceNewCluster: false, req: {} }, [failed('invalid ListenAddr')]);
  run('init: credentials cannot be written', at('inactive'), { on: 'init', forceNewCluster: false, req: {} }, [done(initPlan), failed('EACCES')]);
  run('init: the manager cannot start', at('inactive'), { on: 'init', forceNewCluster: false, req: {} }, [done(initPlan), done(), failed('failed to listen on remote API address'), done()]);
  run('init: already a worker', at('worker', worker), { on: 'init', forceNewCluster: false, req: {} }, []);
  run('init: --force-new-cluster on a worker', at('worker', worker), { on: 'init', forceNewCluster: true, req: {} }, []);
  run('init: --force-new-cluster on a manager', at('manager', manager), { on: 'init', forceNewCluster: true, req: {} }, [done(42), done()]);
  run('init: --force-new-cluster fails', at('manager', manager), { on: 'init', forceNewCluster: true, req: {} }, [done(42), failed('no raft state')]);

  run('join: as a worker', at('inactive'), { on: 'join', req: {} }, [done(enrolled(worker)), done()]);
  run('join: as a worker, the roles fail', at('inactive'), { on: 'join', req: {} }, [done(enrolled(worker)), failed('no certificates')]);
  run('join: as a manager', at('inactive'), { on: 'join', req: {} }, [done(enrolled({ ...manager, managers: worker.managers })), done()]);
  run('join: as a manager, Raft refuses', at('inactive'), { on: 'join', req: {} }, [done(enrolled({ ...manager, managers: worker.managers })), failed('raft join refused'), done()]);
  run('join: the token is refused', at('inactive'), { on: 'join', req: {} }, [failed('rpc error: code = InvalidArgument desc = invalid join token')]);
  run('join: already in a swarm', at('manager', manager), { on: 'join', req: {} }, []);

  run('leave: off any swarm', at('inactive'), { on: 'leave', force: false }, []);
  run('leave: locked without --force', at('locked', manager), { on: 'leave', force: false }, []);
  run('leave: locked with --force', at('locked', manager), { on: 'leave', force: true }, [done([]), done()]);
  run('leave: the last manager without --force', at('manager', manager), { on: 'leave', force: false }, [done({ current: true, reachable: 1, unreachable: 0 })]);
  run('leave: a manager, no leader to count', at('manager', manager), { on: 'leave', force: false }, [done(undefined)]);
  run('leave: a manager with --force', at('manager', manager), { on: 'leave', force: true }, [done(['t1']), done()]);
  run('leave: a worker', at('worker', worker), { on: 'leave', force: false }, [done(['t1', 't2']), done()]);
  run('leave: the runtime fails', at('worker', worker), { on: 'leave', force: false }, [done(['t1']), failed('engine gone')]);

  run('demotion', at('manager', manager), { on: 'removedFromRaft' }, [done([{ nodeId: 'm2', addr: '10.0.0.3:2377' }]), done(), done()]);
  run('demotion: reported to a worker', at('worker', worker), { on: 'removedFromRaft' }, []);
  run('demotion: the worker cannot start', at('manager', manager), { on: 'removedFromRaft' }, [done([]), done(), failed('no certificates')]);

  run('promotion: the second manager takes us in', at('worker', worker), { on: 'certificate', role: 'manager' }, [
    done(['10.0.0.1:2377', '10.0.0.3:2377']),
    done(),
    failed('raft join: leader unreachable'),
    done(),
    done(),
  ]);
  run('promotion: no manager takes us in', at('worker', worker), { on: 'certificate', role: 'manager' }, [done(['10.0.0.1:2377']), done(), failed('raft join refused'), done(), done()]);
  run('promotion: no manager known', at('worker', worker), { on: 'certificate', role: 'manager' }, [done([]), done(), done()]);
  run('certificate: still a worker', at('worker', worker), { on: 'certificate', role: 'worker' }, []);
  run('certificate: a manager renews', at('manager', manager), { on: 'certificate', role: 'manager' }, []);

  run('managers seen: a new list', at('worker', worker), { on: 'managersSeen', managers: [{ nodeId: 'm1', addr: '10.0.0.1:2377' }, { nodeId: 'm2', addr: '10.0.0.3:2377' }] }, []);
  run('managers seen: the same list', at('worker', worker), { on: 'managersSeen', managers: worker.managers! }, []);
  run('managers seen: by a manager', at('manager', manager), { on: 'managersSeen', managers: worker.managers! }, []);
  assertGolden(GOLDEN, out.join('\n'));
});

test('role machine: swarm.json is written only once the roles run, and erased only after they stopped', () => {
  // init: the write comes with the transition that follows a started manager
  const steps: { persist?: string; after: string }[] = [];
  let m = initialRoleMachine();
  let e: RoleEvent = { on: 'init', forceNewCluster: false, req: {} };
  for (const o of [initPlan, undefined, undefined, undefined]) {
    const t = transition(m, e);
    steps.push({ persist: t.persist, after: m.flow?.step ?? m.phase });
    m = t.machine;
    e = { on: 'done', value: o };
    if (t.settle) break;
  }
  assert.deepEqual(
    steps.filter((s) => s.persist),
    [{ persist: 'write', after: 'init-start' }],
  );
  assert.deepEqual(m, { phase: 'manager', swarm: manager });

  // a failed manager join: the roles are stopped (undo step) before swarm.json and the certificates go
  let j: RoleMachine = initialRoleMachine();
  j = transition(j, { on: 'join', req: {} }).machine;
  j = transition(j, { on: 'done', value: enrolled(manager) }).machine;
  const undo = transition(j, { on: 'failed', error: new Error('x') });
  assert.equal(undo.persist, undefined);
  assert.deepEqual(undo.effects, [{ do: 'stopRoles' }]);
  const end = transition(undo.machine, { on: 'done' });
  assert.equal(end.persist, 'erase');
  assert.deepEqual(end.machine, { phase: 'inactive' });
});

test('role machine: commands are refused with Docker texts, and never during a flow', () => {
  const refusal = (m: RoleMachine, e: RoleEvent) => {
    const t = transition(m, e);
    assert.ok(t.settle && 'error' in t.settle, `${e.on} is refused`);
    return (t.settle.error as Error).message;
  };
  assert.equal(refusal(at('worker', worker), { on: 'join', req: {} }), ALREADY_IN_SWARM);
  assert.equal(refusal(at('inactive'), { on: 'leave', force: true }), NOT_IN_SWARM);
  assert.equal(refusal(at('locked', manager), { on: 'leave', force: false }), LEAVE_LOCKED);
  const joining = transition(at('inactive'), { on: 'join', req: {} }).machine;
  assert.match(refusal(joining, { on: 'leave', force: true }), /leave during join-enroll/);
});

test('managerStats counts reachable and unreachable managers and finds this one', () => {
  const nodes = [
    { ID: 'a', ManagerStatus: { Reachability: 'reachable' } },
    { ID: 'b', ManagerStatus: { Reachability: 'unreachable' } },
    { ID: 'c', ManagerStatus: { Reachability: 'reachable' } },
    { ID: 'w' },
  ];
  assert.deepEqual(managerStats(nodes, 'c'), { current: true, reachable: 2, unreachable: 1 });
  assert.deepEqual(managerStats(nodes, 'b'), { current: false, reachable: 2, unreachable: 1 });
});
