// Byte encodings the driver owns: a store change list (the payload of a normal entry), a member
// (the context of an addNode conf change) and the snapshot payload (store + membership).
import type { Change, StoreSnapshot } from '../../store';
import { invalidArgument } from '../../lib/errors';

export interface RaftMember {
  raftId: number;
  /** host:port other managers dial (the manager's advertise address). */
  addr: string;
  /** The swarm node ID (certificate CN). */
  nodeId: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeChanges(changes: Change[]): Uint8Array {
  return enc.encode(JSON.stringify(changes));
}

export function decodeChanges(data: Uint8Array): Change[] {
  if (data.length === 0) return [];
  const v = JSON.parse(dec.decode(data)) as unknown;
  if (!Array.isArray(v)) throw invalidArgument('raft entry is not a change list');
  return v as Change[];
}

export function encodeMember(m: RaftMember): Uint8Array {
  return enc.encode(JSON.stringify({ raftId: m.raftId, addr: m.addr, nodeId: m.nodeId }));
}

export function decodeMember(data: Uint8Array | undefined): RaftMember | undefined {
  if (!data || data.length === 0) return undefined;
  try {
    const v = JSON.parse(dec.decode(data)) as RaftMember;
    if (typeof v.raftId === 'number' && typeof v.addr === 'string' && typeof v.nodeId === 'string') return v;
  } catch {
    /* not ours */
  }
  return undefined;
}

/** What a Raft snapshot carries: the store at the snapshot index and the membership table with it. */
export interface SnapshotPayload {
  v: 1;
  store: StoreSnapshot;
  members: RaftMember[];
  removed: number[];
}

export function encodeSnapshotPayload(p: Omit<SnapshotPayload, 'v'>): Uint8Array {
  return enc.encode(JSON.stringify({ v: 1, ...p }));
}

export function decodeSnapshotPayload(data: Uint8Array): SnapshotPayload {
  const v = JSON.parse(dec.decode(data)) as SnapshotPayload;
  if (v.v !== 1 || !v.store) throw invalidArgument('unknown raft snapshot payload');
  return v;
}
