// Fast failover when the leader's process is gone. Raft alone waits out the followers' leases
// (electionTick) plus a randomized timeout (up to 2×electionTick) before a new leader can win. When
// a follower has not heard from its leader for a few heartbeats, or its stream to the leader broke
// (a killed process resets its connections at once), it asks the leader's port directly;
// only if that is refused (process dead, or its consensus stopped) does it start a forced election
// (the transfer-style vote that followers grant despite their lease). The survivors, who learn of the
// death within ~20 ms of each other, take turns: each waits for its slot (its place among the other
// voters by Raft ID), and stands down once another election has begun (its term moved), so that two
// forced elections do not split the vote and leave the cluster to normal timing (1–2 election
// timeouts; seen in 1 of 4 failovers when the delay was only random within one tick). An earlier
// candidate that loses (its log behind) also leaves the rest to normal timing.
// Turns are only as good as the survivors' clocks agree on the death: a survivor busy with 1,000 agents
// reconnecting at once saw the broken stream 430 ms after the other, both campaigned in the same
// millisecond and split the vote, and normal timing (10–20 s with Docker's 1 s ticks) followed. So a
// member that forced an election, or stood down for another's, looks again a while later: while no
// leader is known it takes its turn again (a few times at most per death). After a split both candidates
// started together, so this time the turns separate them.
// A slow or partitioned leader answers nothing (timeout) and is left to normal Raft timing.
// Safety never depends on this: votes, terms and log checks are unchanged.
import type { Rng } from '../../lib/ports';
import type { Timers } from './options';

export type ProbeResult = 'alive' | 'dead' | 'unknown';

export interface LeaderWatchHost {
  /**
   * Leader raft ID (0: none known, as for a candidate) and term as this member sees them while it runs
   * and does not lead; undefined when it leads or does not run.
   */
  electionView(): { lead: number; term: number } | undefined;
  probe(raftId: number): Promise<ProbeResult>;
  /** This member's turn to campaign when `deadLeader` is gone: 0 first, 1 next, … */
  campaignSlot(deadLeader: number): number;
  forceCampaign(reason: string): void;
}

/** Elections a member forces (or waits out) per dead leader before leaving the rest to normal Raft timing. */
export const MAX_FORCED_ROUNDS = 3;

export class LeaderWatch {
  private silentTicks = 0;
  private heard = 0;
  private probing = false;
  private ticksSinceProbe = 1;

  private readonly rng: Rng;
  private readonly timers: Timers;
  private readonly tickMs: number;
  /** Ticks without word from the leader before probing it. */
  private readonly silenceTicks: number;

  constructor(
    private readonly host: LeaderWatchHost,
    o: { rng: Rng; timers: Timers; tickMs: number; silenceTicks: number },
  ) {
    this.rng = o.rng;
    this.timers = o.timers;
    this.tickMs = o.tickMs;
    this.silenceTicks = o.silenceTicks;
  }

  heardFromLeader(): void {
    this.silentTicks = 0;
    this.heard++;
  }

  tick(): void {
    const v = this.host.electionView();
    if (!v || v.lead === 0) {
      this.silentTicks = 0;
      return;
    }
    this.silentTicks++;
    this.ticksSinceProbe++;
    if (this.silentTicks < this.silenceTicks) return;
    this.silentTicks = 0; // probe again only after another quiet period
    this.probe(v);
  }

  /** The transport lost its stream to `raftId`: if that is our leader, ask its port now (at most once a tick). */
  connectionLost(raftId: number): void {
    const v = this.host.electionView();
    if (!v || v.lead === 0 || v.lead !== raftId || this.ticksSinceProbe < 1) return;
    this.probe(v);
  }

  private probe(v: { lead: number; term: number }): void {
    const { lead, term } = v;
    if (this.probing) return;
    this.probing = true;
    this.ticksSinceProbe = 0;
    const heard = this.heard;
    void this.host.probe(lead).then((r) => {
      this.probing = false;
      if (r !== 'dead') return;
      this.takeTurn(lead, term, heard, MAX_FORCED_ROUNDS);
    });
  }

  /**
   * Waits for this member's turn; campaigns then unless the leader was heard from or another election
   * began (the term moved). Either way it looks again later while rounds remain.
   */
  private takeTurn(lead: number, term: number, heard: number, rounds: number): void {
    const delay = campaignDelayMs(this.host.campaignSlot(lead), this.tickMs, this.rng.next());
    this.timers.setTimeout(() => {
      const now = this.host.electionView();
      const unchanged = now !== undefined && (now.lead === lead || now.lead === 0) && now.term === term;
      if (this.heard !== heard || !unchanged) return this.lookAgain(lead, heard, rounds - 1);
      this.host.forceCampaign(rounds === MAX_FORCED_ROUNDS ? `leader ${lead} is down` : `leader ${lead} is down and no leader was elected since`);
      this.lookAgain(lead, heard, rounds - 1);
    }, delay);
  }

  /** A while after a forced election (ours or another's): if no leader came of it, another turn. */
  private lookAgain(lead: number, heard: number, rounds: number): void {
    if (rounds <= 0) return;
    this.timers.setTimeout(() => {
      const now = this.host.electionView();
      if (this.heard !== heard || now === undefined || now.lead !== 0) return; // a leader is known (or it is us)
      this.takeTurn(lead, now.term, heard, rounds);
    }, electionCheckMs(this.tickMs));
  }
}

/**
 * How long a forced election gets to produce a leader (and the winner's first append to arrive) before
 * the next round of turns: a tick, 300 ms at least; under load a vote's round trip took ~0.5 s.
 */
export function electionCheckMs(tickMs: number): number {
  return Math.max(tickMs, 300);
}

/**
 * Slot k campaigns in [k·s, k·s + s/2) with s = max(tick/2, 100 ms): turns at least s/2 apart (50 ms
 * or more), more than the spread of the survivors' detection times (~20 ms measured) plus a vote's
 * way to the next one; the jitter covers members that disagree about the voter set.
 */
export function campaignDelayMs(slot: number, tickMs: number, random: number): number {
  const s = Math.max(tickMs / 2, 100);
  return Math.floor(s * (Math.max(0, slot) + random / 2));
}

/** `self`'s place among the voters other than `dead`, by Raft ID. */
export function campaignSlot(voters: readonly number[], dead: number, self: number): number {
  return Math.max(0, [...voters].filter((v) => v !== dead).sort((a, b) => a - b).indexOf(self));
}
