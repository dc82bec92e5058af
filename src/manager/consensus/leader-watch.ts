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
// A slow or partitioned leader answers nothing (timeout) and is left to normal Raft timing.
// Safety never depends on this: votes, terms and log checks are unchanged.
import type { Rng } from '../../lib/ports';
import type { Timers } from './options';

export type ProbeResult = 'alive' | 'dead' | 'unknown';

export interface LeaderWatchHost {
  /** Leader raft ID (0: none known) and term as this follower sees them, or undefined when not a follower. */
  followerView(): { lead: number; term: number } | undefined;
  probe(raftId: number): Promise<ProbeResult>;
  /** This member's turn to campaign when `deadLeader` is gone: 0 first, 1 next, … */
  campaignSlot(deadLeader: number): number;
  forceCampaign(reason: string): void;
}

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
    const v = this.host.followerView();
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
    const v = this.host.followerView();
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
      const delay = campaignDelayMs(this.host.campaignSlot(lead), this.tickMs, this.rng.next());
      this.timers.setTimeout(() => {
        // Still as it was: the dead leader not heard from again, and no election begun by another member.
        const now = this.host.followerView();
        if (now && now.lead === lead && now.term === term && this.heard === heard) this.host.forceCampaign(`leader ${lead} is down`);
      }, delay);
    });
  }
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
