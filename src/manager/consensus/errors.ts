// Errors of the consensus driver. All are ShoalError kinds the API layer already maps.
import { NO_LEADER_MESSAGE, ShoalError, unavailable } from '../../lib/errors';

/** This manager is not the leader; `leader` names the one to forward to (raftId 0 / addr '' when unknown). */
export class NotLeaderError extends ShoalError {
  constructor(readonly leader: { raftId: number; addr: string; nodeId: string }) {
    super('Unavailable', `raft: this manager is not the leader; the leader is ${leader.raftId} (node ${leader.nodeId || '?'}) at ${leader.addr || '?'}`);
    this.name = 'NotLeader';
  }
}

/** A proposal this leader accepted was not committed in its term (leadership moved on). */
export class LostLeadershipError extends ShoalError {
  constructor() {
    super('Unavailable', 'raft: lost leadership before the proposal committed');
    this.name = 'LostLeadership';
  }
}

/** Docker's text for a cluster without a leader (quorum lost). */
export const noLeader = (): ShoalError => unavailable(NO_LEADER_MESSAGE);

/** Sent back to a removed member that still talks to us; its transport turns this into `reportRemoved`. */
export const MEMBER_REMOVED_MESSAGE = 'raft: member was removed from the cluster';

export const CANNOT_REMOVE_MESSAGE = 'raft: member cannot be removed, because removing it may result in loss of quorum';

export const isNotLeader = (e: unknown): e is NotLeaderError => e instanceof NotLeaderError;
