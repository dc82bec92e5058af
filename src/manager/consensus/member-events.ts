// Who is told when this member's view of the cluster changes: the manager starts and stops its
// leader components on leadership changes and leaves the swarm when it learns it was removed.
import type { ConsensusLogger } from './options';

export type LeadershipListener = (isLeader: boolean, leaderRaftId: number) => void;

export class MemberEvents {
  private readonly leadership = new Set<LeadershipListener>();
  private readonly removal = new Set<() => void>();

  constructor(private readonly log: ConsensusLogger) {}

  /** Returns an unsubscribe. */
  onLeadershipChange(cb: LeadershipListener): () => void {
    this.leadership.add(cb);
    return () => this.leadership.delete(cb);
  }

  onRemoved(cb: () => void): () => void {
    this.removal.add(cb);
    return () => this.removal.delete(cb);
  }

  /** A listener that throws is logged and the others are still told. */
  leadershipChanged(isLeader: boolean, leader: number): void {
    for (const cb of this.leadership) {
      try {
        cb(isLeader, leader);
      } catch (err) {
        this.log.warn({ err }, 'raft: leadership listener failed');
      }
    }
  }

  removed(): void {
    for (const cb of this.removal) cb();
  }
}
