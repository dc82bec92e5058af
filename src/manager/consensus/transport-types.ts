// The port between the driver and the network. The driver hands messages over and never waits;
// the transport reports back what Raft must know about delivery.
import type { Message } from '../../raft';
import type { RaftMember } from './codec';

export interface RaftTransportSink {
  /** A message to this peer could not be delivered (Raft slows replication to it to probing). */
  reportUnreachable(raftId: number): void;
  /** A snapshot message to this peer was delivered (ok) or not. */
  reportSnapshot(raftId: number, ok: boolean): void;
  /** A peer answered that we were removed from the cluster. */
  reportRemoved(byRaftId: number): void;
  /** A batch to this peer was accepted (it is up). */
  reportContact(raftId: number): void;
}

export interface RaftTransport {
  bind(sink: RaftTransportSink): void;
  /** Add or update a peer's address. */
  setPeer(raftId: number, addr: string): void;
  removePeer(raftId: number): void;
  /** Queue messages for delivery; must not block or throw. */
  send(messages: Message[]): void;
  /** Is the member's process up? 'dead' only when its port refuses us (used for fast failover). */
  probe?(raftId: number): Promise<'alive' | 'dead' | 'unknown'>;
  /** Ask the manager at `addr` (the leader) to add a member; used by followers to forward a join. */
  forwardJoin?(addr: string, req: { addr: string; nodeId: string }): Promise<JoinResponse>;
  close(): Promise<void>;
}

/** The inbound side a server hands requests to (implemented by RaftConsensus). */
export interface RaftServiceTarget {
  /** Messages from a peer; `peerNodeId` is the caller's certificate CN. Throws to refuse the batch. */
  receive(messages: Message[], peerNodeId?: string): void;
  /** A manager asks to join: allocate a raft ID, add it (leader only; followers forward). */
  handleJoin(req: { addr: string; nodeId: string }): Promise<JoinResponse>;
  resolveAddress(raftId: number): string | undefined;
}

export interface JoinResponse {
  raftId: number;
  /** Every member including the new one. */
  members: RaftMember[];
  removed: number[];
}
