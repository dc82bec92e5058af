import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHECK_EVERY_MAX_MS, DISCONNECT_GRACE_MS, HeartbeatTracker, checkHeldUpMs, disconnectGraceMs, heartbeatPeriodMs, heartbeatTtlMs, unknownGraceMs } from './heartbeat';

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
  assert.deepEqual(h.expire(6101), [{ nodeId: 'n1', sessionId: 's1', reason: 'heartbeat' }]);
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

test('a dropped connection: Down after the grace unless a stream opens again; heartbeats do not hold it up', () => {
  const h = new HeartbeatTracker(500);
  // 5 s period: the heartbeat TTL is 15.5 s, the disconnect grace 1 s
  assert.equal(disconnectGraceMs(5000), DISCONNECT_GRACE_MS);
  h.register('n1', 's1', 0, 5000);
  h.register('n2', 's2', 0, 5000);
  assert.equal(h.disconnected('n1', 's1', 2000, disconnectGraceMs(5000)), true);
  assert.equal(h.disconnected('n2', 's2', 2000, disconnectGraceMs(5000)), true);
  assert.equal(h.nextDeadline(), 3000);
  // n2's agent comes back on the same session within the grace; n1's only beats
  h.streamOpened('n2', 's2');
  assert.equal(h.beat('n1', 's1', 2500, 5000), true);
  assert.deepEqual(h.expire(3000), []);
  assert.deepEqual(h.expire(3001), [{ nodeId: 'n1', sessionId: 's1', reason: 'disconnect' }]);
  assert.equal(h.sessionOf('n1'), undefined);
  assert.equal(h.sessionOf('n2'), 's2');
  // n2 is held by heartbeats again, not the grace
  assert.equal(h.nextDeadline(), 15_500);
});

test('a new session lifts the disconnect deadline of the old one; a stale session cannot set one', () => {
  const h = new HeartbeatTracker(0);
  h.register('n1', 's1', 0, 5000);
  h.disconnected('n1', 's1', 100, 1000);
  h.register('n1', 's2', 300, 5000);
  assert.equal(h.disconnected('n1', 's1', 400, 1000), false, 'the replaced session no longer counts');
  assert.deepEqual(h.expire(5000), []);
  assert.equal(h.sessionOf('n1'), 's2');
  // a silent partition (no disconnect seen) is still only the heartbeat TTL
  assert.deepEqual(h.expire(15_300), []);
  assert.deepEqual(h.expire(15_301), [{ nodeId: 'n1', sessionId: 's2', reason: 'heartbeat' }]);
});

test('the grace is never longer than one heartbeat period, nor than 1 s', () => {
  assert.equal(disconnectGraceMs(300), 300);
  assert.equal(disconnectGraceMs(1000), 1000);
  assert.equal(disconnectGraceMs(60_000), 1000);
});

test("a daemon that said it is stopping: its connection's end sets no grace, only the heartbeat TTL holds", () => {
  const h = new HeartbeatTracker(500);
  h.register('n1', 's1', 0, 5000);
  h.register('n2', 's2', 0, 5000);
  h.stopping('n1', 's1');
  h.stopping('n2', 'stale');
  assert.equal(h.disconnected('n1', 's1', 100, 1000), false, 'an announced stop is no crash');
  assert.equal(h.disconnected('n2', 's2', 100, 1000), true, 'a stale session cannot announce for the current one');
  assert.deepEqual(h.expire(1101), [{ nodeId: 'n2', sessionId: 's2', reason: 'disconnect' }]);
  assert.deepEqual(h.expire(15_500), []);
  assert.deepEqual(h.expire(15_501), [{ nodeId: 'n1', sessionId: 's1', reason: 'heartbeat' }]);
  // the restarted daemon's new session is judged afresh: a crash of it gets the grace again
  h.register('n1', 's3', 16_000, 5000);
  assert.equal(h.disconnected('n1', 's3', 16_100, 1000), true);
});

test("a new leader's Unknown nodes: swarmkit's 6 periods, never less than a TTL plus the agents' 5 s backoff cap", () => {
  assert.equal(unknownGraceMs(5000, 500), 30_500);
  assert.equal(unknownGraceMs(10_000, 500), 60_500);
  // 1 s heartbeats: 6.5 s would let an agent that backed off to its cap miss its one try
  assert.equal(unknownGraceMs(1000, 500), 8_500);
});

test('a heartbeat after the disconnect deadline is refused', () => {
  const h = new HeartbeatTracker(0);
  h.register('n1', 's1', 0, 5000);
  h.disconnected('n1', 's1', 100, 1000);
  assert.equal(h.beat('n1', 's1', 1101, 5000), false);
});

test('a scheduled check held up for longer than its interval moves every deadline that much later; one on time moves none', () => {
  assert.equal(checkHeldUpMs(10_000, 10_400, 1000), 0, 'a busy loop, 400 ms late: judged as it is');
  assert.equal(checkHeldUpMs(10_000, 11_000, 1000), 0);
  assert.equal(checkHeldUpMs(10_000, 30_000, 1000), 20_000, 'the machine held up for 20 s');
  const h = new HeartbeatTracker(0);
  h.register('n1', 's1', 0, 5000); // TTL 15 s
  h.register('n2', 's2', 0, 5000);
  h.catchUp(0);
  h.catchUp(CHECK_EVERY_MAX_MS); // on time
  h.catchUp(2 * CHECK_EVERY_MAX_MS + 600); // a busy loop: 600 ms late
  assert.equal(h.nextDeadline(), 15_000, 'nothing moved');
  assert.ok(h.disconnected('n2', 's2', 2600, 5000)); // must reconnect by 7.6 s
  // the next check, due at 3.6 s, ran at 23.6 s: nothing expires at once, and the heartbeats on their way still count
  h.catchUp(23_600);
  assert.deepEqual(h.expire(23_600), []);
  assert.ok(h.beat('n1', 's1', 24_000, 5000), 'a heartbeat read after the pause is accepted');
  // a node that really went away is still found out, 20 s later
  assert.deepEqual(h.expire(27_600), []);
  assert.deepEqual(h.expire(27_601), [{ nodeId: 'n2', sessionId: 's2', reason: 'disconnect' }]);
  assert.deepEqual(h.expire(39_000), []);
  assert.deepEqual(h.expire(39_001), [{ nodeId: 'n1', sessionId: 's1', reason: 'heartbeat' }]);
  h.register('n3', 's3', 40_000, 5000);
  for (const none of [0, -5, Number.NaN]) h.postpone(none);
  assert.equal(h.nextDeadline(), 55_000, 'no delay, no move');
  // the dispatcher stopped (leadership lost) and starts again 10 minutes later: that was no hold-up
  h.checksStart(640_000);
  h.register('n4', 's4', 640_000, 5000);
  h.catchUp(641_000);
  assert.equal(h.nextDeadline(), 55_000);
  assert.deepEqual(h.expire(655_001).map((e) => e.nodeId), ['n3', 'n4'], 'a session of the new term keeps its own TTL');
});
