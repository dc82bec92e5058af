// Errors of the consensus driver. All are ShoalError kinds the API layer already maps.
import { invalidArgument, ShoalError, type ErrorReason } from '../../lib/errors';

export { noLeader } from '../../lib/errors';

/** This manager is not the leader; `leader` names the one to forward to (raftId 0 / addr '' when unknown). */
export class NotLeaderError extends ShoalError {
  constructor(readonly leader: { raftId: number; addr: string; nodeId: string }) {
    super('Unavailable', `raft: this manager is not the leader; the leader is ${leader.raftId} (node ${leader.nodeId || '?'}) at ${leader.addr || '?'}`, 'not-leader', leader.addr || undefined);
    this.name = 'NotLeader';
  }
}

/**
 * A proposal this leader accepted did not commit while it led. Its entry may still be committed by
 * the next leader (it may already sit in a majority's logs), so the write's outcome is unknown and
 * it must not be retried: a retry could apply it twice.
 */
export class LostLeadershipError extends ShoalError {
  constructor() {
    super('Unavailable', 'raft: lost leadership before the proposal committed', 'lost-leadership');
    this.name = 'LostLeadership';
  }
}

/**
 * Another leader's entry took the proposal's index: the proposal is certainly not in the log, so
 * the operation may safely be tried again.
 */
export class ProposalOverwrittenError extends ShoalError {
  constructor() {
    super('Unavailable', 'raft: the proposal was overwritten by a new leader before it committed', 'proposal-overwritten');
    this.name = 'ProposalOverwritten';
  }
}

/** The leader is handing leadership over: a proposal is refused before it reaches the log. */
export const leadershipTransferInProgress = (): ShoalError => new ShoalError('Unavailable', 'raft: leadership transfer in progress', 'leadership-transfer');

/** Sent back to a removed member that still talks to us; its transport turns this into `reportRemoved`. */
export const MEMBER_REMOVED_MESSAGE = 'raft: member was removed from the cluster';

export const CANNOT_REMOVE_MESSAGE = 'raft: member cannot be removed, because removing it may result in loss of quorum';

/**
 * Whether a control operation that failed with `e` (here, or on the leader it was forwarded to) may
 * be run again: only when it certainly never reached the log (refused by a non-leader or during a
 * leadership transfer, overwritten by a new leader's entry, or never sent because no connection
 * could be made). A lost leadership, a dropped connection or a deadline leaves the outcome unknown:
 * a retry could apply the write twice and answer the client with a conflict for its own write.
 */
export function retryableControlError(e: unknown): boolean {
  return e instanceof ShoalError && e.reason !== undefined && RETRYABLE.has(e.reason);
}

const RETRYABLE: ReadonlySet<ErrorReason> = new Set<ErrorReason>(['not-leader', 'leadership-transfer', 'proposal-overwritten', 'not-sent']);

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
