// Public surface of the consensus driver (see docs/design/consensus.md).
export { RaftConsensus } from './raft-consensus';
export type { RaftConsensusOptions, Timers, ConsensusLogger, ConsensusObserver } from './options';
export type { RaftMember } from './codec';
export type { MemberStatus, Reachability } from './membership';
export { keepsQuorumWithout } from './membership';
export { NotLeaderError, LostLeadershipError, ProposalOverwrittenError, MEMBER_REMOVED_MESSAGE, CANNOT_REMOVE_MESSAGE, isNotLeader, retryableControlError } from './errors';
export type { RaftTransport, RaftTransportSink, RaftServiceTarget, JoinResponse } from './transport-types';
export { RaftService, raftServiceHandlers, GrpcRaftTransport, requestJoin } from './transport';
export type { GrpcRaftTransportOptions } from './transport';
export { RaftDiskStorage } from './storage';
