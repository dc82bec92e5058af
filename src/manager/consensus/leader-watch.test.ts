// The fast-failover watch: survivors take turns to campaign (no split vote), a later turn stands
// down once another election has begun, and nobody campaigns once the leader is heard from.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaderWatch, campaignDelayMs, campaignSlot, type ProbeResult } from './leader-watch';
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
      followerView: () => ({ lead: o.lead(), term: o.term?.() ?? 1 }),
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
