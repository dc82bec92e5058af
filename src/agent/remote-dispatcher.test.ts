import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseManager, HINTED_LEADER_RETRIES, type ManagerChoice } from './remote-dispatcher';

const M = ['m1:4242', 'm2:4242', 'm3:4242'];
const base: ManagerChoice = { managers: M, next: 0, hinted: null, prev: null, leader: null };

test('the first connection goes to the first manager; a failed one moves on, a working one stays', () => {
  assert.equal(chooseManager(base).next, 0);
  assert.equal(chooseManager({ ...base, prev: { address: M[0]!, hadSession: false } }).next, 1);
  assert.equal(chooseManager({ ...base, next: 2, prev: { address: M[2]!, hadSession: false } }).next, 0);
  assert.equal(chooseManager({ ...base, next: 1, prev: { address: M[1]!, hadSession: true } }).next, 1);
});

test('a leader hint sends the next connection to the leader, whatever the last one did', () => {
  const c = chooseManager({ ...base, next: 0, hinted: 2, prev: { address: M[0]!, hadSession: true } });
  assert.deepEqual(c, { next: 2, leader: { addr: M[2]!, failures: 0 } });
});

test('a hinted leader that did not answer is tried again a bounded number of times before a follower', () => {
  let state: ManagerChoice = { ...base, hinted: 1, prev: { address: M[0]!, hadSession: false } };
  let c = chooseManager(state);
  const went: number[] = [c.next];
  for (let i = 0; i < HINTED_LEADER_RETRIES + 2; i++) {
    // every attempt there fails without a session (a busy new leader, a timeout)
    state = { ...base, next: c.next, prev: { address: M[c.next]!, hadSession: false }, leader: c.leader };
    c = chooseManager(state);
    went.push(c.next);
  }
  // the leader (1) three times in all, then on to the next manager, then the one after
  assert.deepEqual(went, [1, ...Array(HINTED_LEADER_RETRIES).fill(1), 2, 0]);
});

test('a session with the hinted leader ends its retries: a later failure there moves on at once', () => {
  const c = chooseManager({ ...base, next: 1, prev: { address: M[1]!, hadSession: true }, leader: { addr: M[1]!, failures: 1 } });
  assert.deepEqual(c, { next: 1, leader: null });
  assert.equal(chooseManager({ ...base, next: 1, prev: { address: M[1]!, hadSession: false }, leader: c.leader }).next, 2);
});
