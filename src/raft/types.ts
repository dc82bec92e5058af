// Wire and storage shapes of the Raft core. Plain data only: the driver (manager/consensus)
// serialises these for the transport and the durable log.

import { ShoalError, invalidArgument, type ErrorReason } from '../lib/errors';

export type EntryType = 'normal' | 'conf';

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** Opaque bytes; for 'conf' entries an encoded ConfChange (see encodeConfChange). */
  data: Uint8Array;
}

export type ConfChangeType = 'addNode' | 'removeNode';

export interface ConfChange {
  type: ConfChangeType;
  nodeId: number;
  context?: Uint8Array;
}

export interface HardState {
  term: number;
  vote: number;
  commit: number;
}

export interface ConfState {
  voters: number[];
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

/** Messages exchanged between peers. Every one of them goes over the wire. */
export type MessageType =
  | 'app' // append entries (also probes)
  | 'appResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'snap' // install snapshot
  | 'timeoutNow' // leadership transfer: campaign now
  | 'transferLeader' // follower forwards a transfer request to the leader (term 0)
  | 'readIndex' // follower forwards a read request to the leader (term 0)
  | 'readIndexResp';

export const MESSAGE_TYPES: readonly MessageType[] = [
  'app',
  'appResp',
  'vote',
  'voteResp',
  'preVote',
  'preVoteResp',
  'heartbeat',
  'heartbeatResp',
  'snap',
  'timeoutNow',
  'transferLeader',
  'readIndex',
  'readIndexResp',
];

export interface Message {
  type: MessageType;
  from: number;
  to: number;
  /** Sender's term; 0 for forwarded requests ('readIndex', 'transferLeader'), which carry no term. */
  term: number;
  /** app: term of the entry at `index`. vote/preVote: candidate's last log term. appResp reject: term at rejectHint. */
  logTerm?: number;
  /** app: index preceding `entries`. vote: candidate's last index. appResp: last matched / rejected index. readIndexResp: read index. */
  index?: number;
  entries?: Entry[];
  commit?: number;
  reject?: boolean;
  rejectHint?: number;
  snapshot?: Snapshot;
  /** heartbeat(Resp)/readIndex(Resp): the read request context; vote: TRANSFER_CONTEXT when forced by a transfer. transferLeader: unused. */
  context?: Uint8Array;
}

export type Role = 'follower' | 'candidate' | 'precandidate' | 'leader';

export interface SoftState {
  leader: number;
  role: Role;
}

export interface ReadState {
  index: number;
  context: Uint8Array;
}

/**
 * One batch of work for the driver. Handle it in this order:
 *  1. persist `snapshot` (if any), `entries` (appending, which truncates a conflicting tail) and `hardState` (if any), durably;
 *  2. send `messages`;
 *  3. apply `snapshot` to the state machine, then `committedEntries` (calling applyConfChange for 'conf' entries);
 *  4. call advance(rd).
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot';
  recentActive: boolean;
}

export interface Status {
  id: number;
  term: number;
  vote: number;
  leader: number;
  role: Role;
  commit: number;
  applied: number;
  lastIndex: number;
  voters: number[];
  leadTransferee: number;
  /** Only on the leader. */
  progress?: Map<number, ProgressStatus>;
}

/** Context bytes marking a vote request forced by a leadership transfer (ignores leases). */
export const TRANSFER_CONTEXT = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]); // "transfer"

export const NONE = 0;

// ---- errors -------------------------------------------------------------------------------------

/** A proposal (or conf change, or transfer) was not accepted: not the leader, transfer in progress, or a conf change pending. */
export class ProposalDropped extends ShoalError {
  /** `why`: the text; `reason`: the code callers decide on (e.g. wait while a conf change is pending). */
  constructor(why: string, reason?: ErrorReason) {
    super('Unavailable', `raft: proposal dropped: ${why}`, reason);
  }
}

/** Storage: the requested index is older than the first retained entry. */
export class CompactedError extends ShoalError {
  constructor(index: number) {
    super('FailedPrecondition', `raft: index ${index} is compacted`);
  }
}

/** Storage: the requested index is beyond the last entry. */
export class UnavailableError extends ShoalError {
  constructor(index: number) {
    super('FailedPrecondition', `raft: index ${index} is unavailable`);
  }
}

/** Storage: the snapshot is older than the one held. */
export class SnapshotOutOfDateError extends ShoalError {
  constructor(index: number) {
    super('FailedPrecondition', `raft: snapshot at ${index} is out of date`);
  }
}

/** Storage: the snapshot is being produced; the leader retries later. */
export class SnapshotTemporarilyUnavailableError extends ShoalError {
  constructor() {
    super('Unavailable', 'raft: snapshot temporarily unavailable');
  }
}

/** A broken invariant inside Raft: a bug, or storage handed back inconsistent data. */
export class RaftPanic extends ShoalError {
  constructor(message: string) {
    super('Internal', `raft: ${message}`);
  }
}

// ---- conf change codec --------------------------------------------------------------------------
// Layout (big endian): u8 version=1 | u8 type (0 add, 1 remove) | u32 nodeId high | u32 nodeId low | u32 ctxLen | ctx

const CC_VERSION = 1;

export function isValidNodeId(id: number): boolean {
  return Number.isSafeInteger(id) && id > 0;
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (!isValidNodeId(cc.nodeId)) throw invalidArgument(`raft: invalid node id ${cc.nodeId}`);
  const ctx = cc.context ?? new Uint8Array(0);
  const out = new Uint8Array(14 + ctx.length);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, CC_VERSION);
  dv.setUint8(1, cc.type === 'addNode' ? 0 : 1);
  dv.setUint32(2, Math.floor(cc.nodeId / 0x100000000));
  dv.setUint32(6, cc.nodeId >>> 0);
  dv.setUint32(10, ctx.length);
  out.set(ctx, 14);
  return out;
}

export function decodeConfChange(buf: Uint8Array): ConfChange {
  if (buf.length < 14) throw invalidArgument('raft: conf change too short');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint8(0) !== CC_VERSION) throw invalidArgument(`raft: unknown conf change version ${dv.getUint8(0)}`);
  const t = dv.getUint8(1);
  if (t !== 0 && t !== 1) throw invalidArgument(`raft: unknown conf change type ${t}`);
  const nodeId = dv.getUint32(2) * 0x100000000 + dv.getUint32(6);
  const len = dv.getUint32(10);
  if (buf.length !== 14 + len) throw invalidArgument('raft: conf change length mismatch');
  const cc: ConfChange = { type: t === 0 ? 'addNode' : 'removeNode', nodeId };
  if (len > 0) cc.context = buf.slice(14, 14 + len);
  return cc;
}

export function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0 && hs.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
