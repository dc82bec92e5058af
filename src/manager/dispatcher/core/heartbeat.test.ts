import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeartbeatTracker, heartbeatPeriodMs, heartbeatTtlMs } from './heartbeat';

test('period from the cluster spec (ns), default 5 s', () => {
  assert.equal(heartbeatPeriodMs(undefined), 5000);
  assert.equal(heartbeatPeriodMs(0), 5000);
  assert.equal(heartbeatPeriodMs(2_000_000_000), 2000);
  assert.equal(heartbeatTtlMs(5000, 500), 15_500);
});

test('a node expires 3 periods + epsilon after its last heartbeat', () => {
  const h = new HeartbeatTracker(100);
  h.register('n1', 's1', 0, 1000);
  assert.deepEqual(h.expire(3100), []);
  assert.equal(h.beat('n1', 's1', 3000, 1000), true);
  assert.deepEqual(h.expire(6100), []);
  assert.deepEqual(h.expire(6101), [{ nodeId: 'n1', sessionId: 's1' }]);
  assert.equal(h.beat('n1', 's1', 6200, 1000), false, 'expired session cannot beat');
  assert.equal(h.sessionOf('n1'), undefined);
});

test('a new session replaces the old one of the same node', () => {
  const h = new HeartbeatTracker(0);
  h.register('n1', 's1', 0, 1000);
  assert.equal(h.register('n1', 's2', 10, 1000), 's1');
  assert.equal(h.beat('n1', 's1', 20, 1000), false);
  assert.equal(h.beat('n1', 's2', 20, 1000), true);
  h.register('n2', 'x', 0, 500);
  assert.equal(h.nextDeadline(), 1500);
  h.remove('n2', 'x');
  assert.equal(h.nextDeadline(), 3020);
});
