import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinAddr, joinTokenText, swarmInitText } from './swarm';

test('swarm init text', () => {
  assert.equal(
    swarmInitText('node123', 'SWMTKN-1-abc-def', '127.0.0.1:2377'),
    'Swarm initialized: current node (node123) is now a manager.\n\n' +
      'To add a worker to this swarm, run the following command:\n\n' +
      '    shoal swarm join --token SWMTKN-1-abc-def 127.0.0.1:2377\n\n' +
      "To add a manager to this swarm, run 'shoal swarm join-token manager' and follow the instructions.\n\n",
  );
});

test('join-token text and address', () => {
  assert.equal(joinTokenText('manager', 'T', '10.0.0.1:2377'), 'To add a manager to this swarm, run the following command:\n\n    shoal swarm join --token T 10.0.0.1:2377\n\n');
  assert.equal(joinAddr(undefined, '10.0.0.1'), '10.0.0.1:2377');
  assert.equal(joinAddr('10.0.0.2:4000', '10.0.0.1'), '10.0.0.2:4000');
});
