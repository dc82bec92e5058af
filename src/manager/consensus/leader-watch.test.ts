// The fast-failover watch: survivors take turns to campaign (no split vote), a later turn stands
// down once another election has begun, nobody campaigns once the leader is heard from, and a forced
// election that elected nobody (a split vote) is followed by another round of turns, a few at most.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaderWatch, MAX_FORCED_ROUNDS, campaignDelayMs, campaignSlot, electionCheckMs, type ProbeResult } from './leader-watch';
import type { Timers } from './options';

/** Timers run by hand: setTimeout callbacks wait in `due` until the test fires them. */
function manualTimers(): Timers & { due: { fn: () => void; ms: number }[] } {
  const due: { fn: () => void; ms: number }[] = [];
  return {
    due,
    setInterval: () => 0,
    clearInterval: () => undefined,
    setTimeout: (fn, ms) => due.push({ fn, ms }),
    clearTimeout: () => undefined,
  };
}

function watch(o: { slot: number; lead: () => number; term?: () => number; probe?: ProbeResult; random?: number }) {
  const timers = manualTimers();
  const campaigns: string[] = [];
  const w = new LeaderWatch(
    {
      electionView: () => ({ lead: o.lead(), term: o.term?.() ?? 1 }),
      probe: () => Promise.resolve(o.probe ?? 'dead'),
      campaignSlot: () => o.slot,
      forceCampaign: (reason) => campaigns.push(reason),
    },
    { rng: { next: () => o.random ?? 0.5, bytes: (n: number) => new Uint8Array(n) }, timers, tickMs: 100, silenceTicks: 3 },
  );
  return { w, timers, campaigns };
}

const settle = () => new Promise((r) => setImmediate(r));

test('slots: the voters other than the dead leader, by Raft ID; turns 50 ms apart at least', () => {
  assert.equal(campaignSlot([30, 10, 20], 10, 20), 0);
  assert.equal(campaignSlot([30, 10, 20], 10, 30), 1);
  assert.equal(campaignSlot([30, 10, 20], 20, 10), 0);
  assert.equal(campaignSlot([5], 9, 7), 0, 'unknown to the voter set: first slot');
  for (let slot = 0; slot < 6; slot++) {
    assert.ok(campaignDelayMs(slot + 1, 50, 0) - campaignDelayMs(slot, 50, 0.999) >= 50, 'with a 50 ms tick too');
    const latest = campaignDelayMs(slot, 100, 0.999);
    const nextEarliest = campaignDelayMs(slot + 1, 100, 0);
    assert.ok(nextEarliest - latest >= 50, `slot ${slot} ends ${latest} ms, slot ${slot + 1} starts ${nextEarliest} ms`);
  }
});

test('a dead leader: slot 0 campaigns first; slot 1 stands down once slot 0 leads', async () => {
  let lead = 7;
  const a = watch({ slot: 0, lead: () => lead });
  const b = watch({ slot: 1, lead: () => lead });
  for (let i = 0; i < 3; i++) {
    a.w.tick();
    b.w.tick();
  }
  await settle();
  assert.equal(a.timers.due.length, 1);
  assert.equal(b.timers.due.length, 1);
  assert.ok(a.timers.due[0]!.ms < b.timers.due[0]!.ms);
  a.timers.due[0]!.fn();
  assert.deepEqual(a.campaigns, ['leader 7 is down']);
  lead = 3; // slot 0 won: b now follows it
  b.timers.due[0]!.fn();
  assert.deepEqual(b.campaigns, []);
});

test('slot 1 stands down once another member began an election (its term moved), won or not', async () => {
  let lead = 7;
  let term = 1;
  const b = watch({ slot: 1, lead: () => lead, term: () => term });
  for (let i = 0; i < 3; i++) b.w.tick();
  await settle();
  lead = 0; // slot 0's vote request: a new term, no leader yet
  term = 2;
  b.timers.due[0]!.fn();
  assert.deepEqual(b.campaigns, []);
});

test('a leader that answers, or is heard from again, is left alone', async () => {
  const alive = watch({ slot: 0, lead: () => 7, probe: 'alive' });
  for (let i = 0; i < 3; i++) alive.w.tick();
  await settle();
  assert.equal(alive.timers.due.length, 0);
  const back = watch({ slot: 0, lead: () => 7 });
  for (let i = 0; i < 3; i++) back.w.tick();
  await settle();
  back.w.heardFromLeader();
  back.timers.due[0]!.fn();
  assert.deepEqual(back.campaigns, []);
});

test('a broken stream to the leader is probed at once (not after the quiet ticks); to another member, not', async () => {
  const a = watch({ slot: 0, lead: () => 7 });
  a.w.connectionLost(5);
  await settle();
  assert.equal(a.timers.due.length, 0);
  a.w.connectionLost(7);
  await settle();
  assert.equal(a.timers.due.length, 1);
  a.w.connectionLost(7); // at most one probe a tick
  await settle();
  assert.equal(a.timers.due.length, 1);
  a.timers.due[0]!.fn();
  assert.deepEqual(a.campaigns, ['leader 7 is down']);
});

/** Fires the earliest due timer of the given watches (by delay, as they were all armed at once); returns its owner. */
function fireNext(...ws: ReturnType<typeof watch>[]): ReturnType<typeof watch> {
  const next = ws.filter((x) => x.timers.due.length > 0).sort((x, y) => x.timers.due[0]!.ms - y.timers.due[0]!.ms)[0]!;
  next.timers.due.shift()!.fn();
  return next;
}

test('a split vote (both survivors campaigned at once, detection skewed by load) is followed by turns again: slot 0 wins it', async () => {
  // Two survivors, each its own view of the election: the dead leader 7 at term 1.
  const view = { a: { lead: 7, term: 1 }, b: { lead: 7, term: 1 } };
  const a = watch({ slot: 0, lead: () => view.a.lead, term: () => view.a.term });
  const b = watch({ slot: 1, lead: () => view.b.lead, term: () => view.b.term });
  a.w.connectionLost(7);
  b.w.connectionLost(7);
  await settle();
  // b saw the death ~430 ms before a: its later turn came at the same moment as a's; neither had
  // seen the other's vote request yet, so both campaigned in term 2 and each voted for itself
  b.timers.due.shift()!.fn();
  a.timers.due.shift()!.fn();
  assert.deepEqual(a.campaigns, ['leader 7 is down']);
  assert.deepEqual(b.campaigns, ['leader 7 is down']);
  view.a = { lead: 0, term: 2 };
  view.b = { lead: 0, term: 2 };
  // both look again after the same interval, then take turns from there: a first
  assert.deepEqual([a.timers.due[0]!.ms, b.timers.due[0]!.ms], [electionCheckMs(100), electionCheckMs(100)]);
  a.timers.due.shift()!.fn();
  b.timers.due.shift()!.fn();
  assert.equal(fireNext(a, b), a);
  assert.deepEqual(a.campaigns, ['leader 7 is down', 'leader 7 is down and no leader was elected since']);
  view.b = { lead: 0, term: 3 }; // a's vote request (term 3) reached b, which grants it
  assert.equal(fireNext(a, b), b);
  assert.equal(b.campaigns.length, 1, 'b stands down: another election began');
  view.a = { lead: 1, term: 3 }; // a won
  view.b = { lead: 1, term: 3 };
  // what is left of the watches' timers finds a leader and does nothing
  for (let i = 0; i < 10 && (a.timers.due.length || b.timers.due.length); i++) fireNext(a, b);
  assert.equal(a.campaigns.length, 2);
  assert.equal(b.campaigns.length, 1);
  assert.equal(a.timers.due.length + b.timers.due.length, 0, 'no timer left armed');
});

test('rounds are bounded: a member that never sees a leader forces a few elections, then leaves it to Raft timing', async () => {
  let term = 1;
  let lead = 7;
  const a = watch({ slot: 0, lead: () => lead, term: () => term });
  a.w.connectionLost(7);
  await settle();
  for (let i = 0; i < 20 && a.timers.due.length > 0; i++) {
    const before = a.campaigns.length;
    a.timers.due.shift()!.fn();
    if (a.campaigns.length > before) {
      term++; // its own election: a new term, no leader (its votes never come)
      lead = 0;
    }
  }
  assert.equal(a.campaigns.length, MAX_FORCED_ROUNDS);
  assert.equal(a.timers.due.length, 0);
});

test('a leader heard from after a forced election: no further round', async () => {
  let view = { lead: 7, term: 1 };
  const a = watch({ slot: 0, lead: () => view.lead, term: () => view.term });
  a.w.connectionLost(7);
  await settle();
  a.timers.due.shift()!.fn();
  assert.equal(a.campaigns.length, 1);
  view = { lead: 0, term: 2 };
  a.w.heardFromLeader(); // another member won term 2 and its first append arrived
  a.timers.due.shift()!.fn();
  assert.equal(a.timers.due.length, 0);
  assert.equal(a.campaigns.length, 1);
});
