// The membership table the driver keeps beside Raft's conf state: addresses and node IDs of the
// voters, the IDs removed for good, and when each peer was last heard from (for MANAGER STATUS).
import type { RaftMember } from './codec';

export type Reachability = 'reachable' | 'unreachable';

export interface MemberStatus extends RaftMember {
  leader: boolean;
  reachability: Reachability;
  /** This manager. */
  self: boolean;
}

/**
 * swarmkit's CanRemoveMember: once `raftId` is gone, the reachable members left still make a quorum
 * of the members left. An unreachable member (a manager that left with `--force`) counts in that
 * quorum's size until it is itself removed.
 */
export function keepsQuorumWithout(members: MemberStatus[], raftId: number): boolean {
  const remaining = members.filter((m) => m.raftId !== raftId);
  const reachable = remaining.filter((m) => m.reachability === 'reachable').length;
  return remaining.length === 0 || reachable >= Math.floor(remaining.length / 2) + 1;
}

export class Membership {
  private byId = new Map<number, RaftMember>();
  private removedIds = new Set<number>();
  private lastContact = new Map<number, number>();

  constructor(readonly selfId: number) {}

  reset(members: RaftMember[], removed: number[]): void {
    this.byId = new Map(members.map((m) => [m.raftId, { ...m }]));
    this.removedIds = new Set(removed);
  }

  get(raftId: number): RaftMember | undefined {
    return this.byId.get(raftId);
  }

  list(): RaftMember[] {
    return [...this.byId.values()].sort((a, b) => a.raftId - b.raftId);
  }

  removed(): number[] {
    return [...this.removedIds].sort((a, b) => a - b);
  }

  isRemoved(raftId: number): boolean {
    return this.removedIds.has(raftId);
  }

  byNodeId(nodeId: string): RaftMember | undefined {
    for (const m of this.byId.values()) if (m.nodeId === nodeId) return m;
    return undefined;
  }

  /** addNode applied. A conf entry without context (bootstrap) keeps what we already know. */
  add(raftId: number, info: RaftMember | undefined): RaftMember {
    const prev = this.byId.get(raftId);
    const m: RaftMember = info ? { ...info, raftId } : (prev ?? { raftId, addr: '', nodeId: '' });
    this.byId.set(raftId, m);
    return m;
  }

  /** removeNode applied: the ID is never accepted again. */
  remove(raftId: number): void {
    this.byId.delete(raftId);
    this.removedIds.add(raftId);
    this.lastContact.delete(raftId);
  }

  contact(raftId: number, now: number): void {
    this.lastContact.set(raftId, now);
  }

  /** Heard from within `windowMs`. */
  recentlySeen(raftId: number, now: number, windowMs: number): boolean {
    const t = this.lastContact.get(raftId);
    return t !== undefined && now - t <= windowMs;
  }

  /** MANAGER STATUS rows: voters (or, before the first conf entry applies, everyone known). */
  statuses(v: { voters: number[]; lead: number; selfUp: boolean; now: number; windowMs: number; progress?: Map<number, { recentActive: boolean }> }): MemberStatus[] {
    const voters = new Set(v.voters);
    return this.list()
      .filter((m) => voters.size === 0 || voters.has(m.raftId))
      .map((m) => {
        const self = m.raftId === this.selfId;
        const reachable = self ? v.selfUp : this.recentlySeen(m.raftId, v.now, v.windowMs) || !!v.progress?.get(m.raftId)?.recentActive;
        return { ...m, self, leader: m.raftId === v.lead, reachability: reachable ? 'reachable' : 'unreachable' };
      });
  }

  /** A fresh ID: random, positive, safe, never used or removed. */
  allocateId(random: () => number): number {
    for (;;) {
      const id = 1 + Math.floor(random() * 0xffffffffffff);
      if (!this.byId.has(id) && !this.removedIds.has(id)) return id;
    }
  }
}
