import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepsQuorumWithout, type MemberStatus } from './membership';

const member = (raftId: number, reachable: boolean): MemberStatus => ({
  raftId,
  addr: `10.0.0.${raftId}:2377`,
  nodeId: `n${raftId}`,
  leader: raftId === 1,
  self: raftId === 1,
  reachability: reachable ? 'reachable' : 'unreachable',
});

test('keepsQuorumWithout: an unreachable member that left still counts in the quorum until it is removed', () => {
  // 3 managers, one left with --force (unreachable): removing it keeps 2 of 2.
  const three = [member(1, true), member(2, true), member(3, false)];
  assert.equal(keepsQuorumWithout(three, 3), true);
  // Removing a live one would leave 1 reachable of 2: refused (swarmkit's CanRemoveMember).
  assert.equal(keepsQuorumWithout(three, 2), false);
  assert.equal(keepsQuorumWithout([member(1, true), member(2, true), member(3, true)], 2), true);
  // 5 managers, 2 unreachable: removing a live one leaves 2 reachable of 4, short of 3.
  const five = [member(1, true), member(2, true), member(3, true), member(4, false), member(5, false)];
  assert.equal(keepsQuorumWithout(five, 3), false);
  assert.equal(keepsQuorumWithout(five, 5), true);
  assert.equal(keepsQuorumWithout([member(1, true)], 1), true, 'nothing left: nothing to lose');
});
