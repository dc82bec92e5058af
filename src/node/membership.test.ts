import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leaveManagerRefusal } from './membership';

const HEAD = 'You are attempting to leave the swarm on a node that is participating as a manager. ';
const TAIL = 'The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.';

test("leaveManagerRefusal: moby's texts for the last manager, a quorum loss, and otherwise", () => {
  assert.equal(
    leaveManagerRefusal({ current: true, reachable: 1, unreachable: 0 }),
    `${HEAD}Removing the last manager erases all current state of the swarm. Use \`--force\` to ignore this message. `,
  );
  assert.equal(
    leaveManagerRefusal({ current: true, reachable: 2, unreachable: 1 }),
    `${HEAD}Removing this node leaves 1 managers out of 3. Without a Raft quorum your swarm will be inaccessible. ${TAIL}`,
  );
  assert.equal(leaveManagerRefusal({ current: true, reachable: 2, unreachable: 0 }), `${HEAD}Removing this node leaves 1 managers out of 2. Without a Raft quorum your swarm will be inaccessible. ${TAIL}`);
  assert.equal(leaveManagerRefusal({ current: true, reachable: 3, unreachable: 0 }), HEAD + TAIL, 'three reachable: losing one keeps a quorum');
  // This manager is not among the reachable ones, or the managers could not be counted (no leader).
  assert.equal(leaveManagerRefusal({ current: false, reachable: 1, unreachable: 2 }), HEAD + TAIL);
  assert.equal(leaveManagerRefusal(undefined), HEAD + TAIL);
});
