import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_KINDS, eventMatches, historyOverflow, swarmEvent } from './swarm-events';
import type { EngineEvent } from '../../api/backend';
import { isoTime } from '../../lib/time';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = isoTime;

const svc = (over: Record<string, unknown> = {}) => ({
  ID: 's1', UpdatedAt: at(NOW - 5000),
  Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox:1' } }, Mode: { Replicated: { Replicas: 2 } } },
  ...over,
});
const node = (over: Record<string, unknown> = {}, status: Record<string, unknown> = {}) => ({
  ID: 'n1', UpdatedAt: at(NOW),
  Spec: { Role: 'worker', Availability: 'active', Labels: {} },
  Description: { Hostname: 'host-1' },
  Status: { State: 'ready', Addr: '10.0.0.1', ...status },
  ...over,
});

test('service: create/update/remove with name; update carries image, replicas and updatestate old/new as moby does', () => {
  const c = swarmEvent({ kind: 'service', action: 'create', object: svc() }, NOW);
  assert.deepEqual(c, { Type: 'service', Action: 'create', Actor: { ID: 's1', Attributes: { name: 'web' } }, scope: 'swarm', time: Math.floor((NOW - 5000) / 1000), timeNano: (NOW - 5000) * 1e6 });
  const cur = svc({ Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox:2' } }, Mode: { Replicated: { Replicas: 5 } } }, UpdateStatus: { State: 'updating' } });
  const u = swarmEvent({ kind: 'service', action: 'update', object: cur, old: svc() }, NOW);
  assert.deepEqual(u?.Actor.Attributes, { name: 'web', 'image.old': 'busybox:1', 'image.new': 'busybox:2', 'replicas.old': '2', 'replicas.new': '5', 'updatestate.new': 'updating' });
  const done = swarmEvent({ kind: 'service', action: 'update', object: svc({ ...cur, UpdateStatus: { State: 'completed' } }), old: cur }, NOW);
  assert.deepEqual(done?.Actor.Attributes, { name: 'web', 'updatestate.old': 'updating', 'updatestate.new': 'completed' });
  const r = swarmEvent({ kind: 'service', action: 'delete', object: svc() }, NOW);
  assert.equal(r?.Action, 'remove');
  assert.equal(r?.timeNano, NOW * 1e6, 'a removal is stamped when it is seen');
  const unmoved = swarmEvent({ kind: 'service', action: 'update', object: svc({ UpdateStatus: { State: 'paused' } }), old: svc() }, NOW);
  assert.equal(unmoved?.timeNano, NOW * 1e6, 'an update that left UpdatedAt as it was is stamped when seen');
});

test('node: availability, role, state, leader and reachability old/new; a heartbeat-only write is no event', () => {
  const old = node({ ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: 'a' } });
  const cur = node({ Spec: { Role: 'manager', Availability: 'drain', Labels: {} }, ManagerStatus: { Leader: false, Reachability: 'unreachable', Addr: 'a' } }, { State: 'down' });
  assert.deepEqual(swarmEvent({ kind: 'node', action: 'update', object: cur, old }, NOW)?.Actor.Attributes, {
    name: 'host-1',
    'availability.old': 'active', 'availability.new': 'drain',
    'role.old': 'worker', 'role.new': 'manager',
    'state.old': 'ready', 'state.new': 'down',
    'leader.old': 'true', 'leader.new': 'false',
    'reachability.old': 'reachable', 'reachability.new': 'unreachable',
  });
  assert.equal(swarmEvent({ kind: 'node', action: 'update', object: node({}, { Addr: '10.0.0.2' }), old: node() }, NOW), undefined);
  // a label change is a spec change: an event with the name only
  assert.deepEqual(swarmEvent({ kind: 'node', action: 'update', object: node({ Spec: { Role: 'worker', Availability: 'active', Labels: { a: 'b' } } }), old: node() }, NOW)?.Actor.Attributes, { name: 'host-1' });
});

test('network, secret and config: Docker shapes (Type, Actor.Attributes.name) from synthetic objects', () => {
  for (const kind of ['network', 'secret', 'config']) {
    assert.ok(EVENT_KINDS.includes(kind));
    const o = { ID: `${kind}-id`, UpdatedAt: at(NOW), Spec: { Name: `my-${kind}`, Labels: {} } };
    for (const [action, want] of [['create', 'create'], ['update', 'update'], ['delete', 'remove']] as const) {
      const ev = swarmEvent({ kind, action, object: o, ...(action === 'update' ? { old: o } : {}) }, NOW);
      assert.deepEqual(ev, { Type: kind, Action: want, Actor: { ID: `${kind}-id`, Attributes: { name: `my-${kind}` } }, scope: 'swarm', time: Math.floor(NOW / 1000), timeNano: NOW * 1e6 });
    }
  }
  assert.equal(swarmEvent({ kind: 'task', action: 'create', object: { ID: 't' } }, NOW), undefined);
  assert.equal(swarmEvent({ kind: 'cluster', action: 'update', object: { ID: 'c' }, old: { ID: 'c' } }, NOW), undefined);
});

test('filters: type, event, scope, and the object by ID or name', () => {
  const secret = { ID: 'x1', Spec: { Name: 'pw' } };
  const ev = swarmEvent({ kind: 'secret', action: 'create', object: secret }, NOW)!;
  assert.equal(eventMatches(ev, {}), true);
  assert.equal(eventMatches(ev, { type: ['secret', 'config'] }), true);
  assert.equal(eventMatches(ev, { type: ['service'] }), false);
  assert.equal(eventMatches(ev, { event: ['remove'] }), false);
  assert.equal(eventMatches(ev, { scope: ['local'] }), false);
  assert.equal(eventMatches(ev, { scope: ['swarm'], secret: ['pw'] }), true);
  assert.equal(eventMatches(ev, { secret: ['x1'] }), true);
  assert.equal(eventMatches(ev, { secret: ['other'] }), false);
  // moby: an object filter is a prefix of the ID or name, and applies to events of every type
  assert.equal(eventMatches(ev, { secret: ['p'] }), true);
  assert.equal(eventMatches(ev, { network: ['pw'] }), true);
  assert.equal(eventMatches(ev, { network: ['net'] }), false);
});

test('history bound: the count and the age limit both drop the oldest', () => {
  const ev = (ms: number): EngineEvent => ({ Type: 'node', Action: 'update', Actor: { ID: 'n', Attributes: {} }, scope: 'swarm', time: Math.floor(ms / 1000), timeNano: ms * 1e6 });
  const h = [ev(NOW - 10_000), ev(NOW - 5000), ev(NOW - 1000), ev(NOW)];
  assert.equal(historyOverflow(h, NOW, { maxEvents: 10, maxAgeMs: 60_000 }), 0);
  assert.equal(historyOverflow(h, NOW, { maxEvents: 3, maxAgeMs: 60_000 }), 1);
  assert.equal(historyOverflow(h, NOW, { maxEvents: 10, maxAgeMs: 2000 }), 2);
});
