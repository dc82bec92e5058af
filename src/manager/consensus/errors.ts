// Errors of the consensus driver. All are ShoalError kinds the API layer already maps.
import { invalidArgument, NO_LEADER_MESSAGE, ShoalError, unavailable } from '../../lib/errors';

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

/**
 * swarmkit's store.MaxTransactionBytes: the largest serialized proposal a manager puts in its log
 * (1.5 MiB). A bigger one (a spec with megabytes of labels) is refused before it is appended, so
 * it costs no log space, no replication and no memory on the other managers.
 */
export const MAX_TRANSACTION_BYTES = 1.5 * 1024 * 1024;

/** swarmkit's ErrRequestTooLarge text; the client's doing, so InvalidArgument (400), not a 500. */
export const REQUEST_TOO_LARGE_MESSAGE = "raft: raft message is too large and can't be sent";
export const requestTooLarge = (): ShoalError => invalidArgument(REQUEST_TOO_LARGE_MESSAGE);
