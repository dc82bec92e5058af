// Fast failover when the leader's process is gone. Raft alone waits out the followers' leases
// (electionTick) plus a randomized timeout (up to 2×electionTick) before a new leader can win. When
// a follower has not heard from its leader for a few heartbeats it asks the leader's port directly;
// only if that is refused (process dead, or its consensus stopped) does it, after a random fraction
// of a tick, start a forced election (the transfer-style vote that followers grant despite their
// lease). A slow or partitioned leader answers nothing (timeout) and is left to normal Raft timing.
// Safety never depends on this: votes, terms and log checks are unchanged.
import type { Rng } from '../../lib/ports';
import type { Timers } from './options';

export type ProbeResult = 'alive' | 'dead' | 'unknown';

export interface LeaderWatchHost {
  /** Leader raft ID and term as this follower sees them, or undefined when not a follower with a leader. */
  followerView(): { lead: number; term: number } | undefined;
  probe(raftId: number): Promise<ProbeResult>;
  forceCampaign(reason: string): void;
}

export class LeaderWatch {
  private silentTicks = 0;
  private heard = 0;
  private probing = false;

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
    if (!v) {
      this.silentTicks = 0;
      return;
    }
    this.silentTicks++;
    if (this.silentTicks < this.silenceTicks || this.probing) return;
    this.probing = true;
    this.silentTicks = 0; // probe again only after another quiet period
    const heard = this.heard;
    void this.host.probe(v.lead).then((r) => {
      this.probing = false;
      if (r !== 'dead') return;
      const delay = Math.floor(this.rng.next() * this.tickMs);
      this.timers.setTimeout(() => {
        const now = this.host.followerView();
        if (now && now.lead === v.lead && now.term === v.term && this.heard === heard) this.host.forceCampaign(`leader ${v.lead} is down`);
      }, delay);
    });
  }
}
