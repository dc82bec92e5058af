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

/** Objects in one piece of the snapshot's text (snapshotPayloadText). */
const SNAPSHOT_SLICE = 2000;

/**
 * The text of encodeSnapshotPayload as makers of pieces, a slice of objects each, for a writer that makes, seals and
 * writes each piece within one synchronous step and frees the event loop between them (SnapshotFiles.write through
 * sys/durable-file's MadePieces): 100,000 tasks are ~50 MB of JSON, one synchronous second that stalled Raft
 * heartbeats and the API, and the payload is never whole in memory (it was, three times over: pieces, joined,
 * sealed; issue 15). Makers, not an async generator of the pieces: a generator's frame suspended between pieces
 * kept the last one alive into the old generation (performance.md, tenth stop). Sound because committed store
 * objects are never changed (a commit replaces them): the snapshot's arrays, taken at one index, keep describing
 * that index while the store moves on.
 */
export function snapshotPayloadText(p: Omit<SnapshotPayload, 'v'>): (() => string)[] {
  const makers: (() => string)[] = [];
  // text between slices (the head, table names, brackets) goes in front of the next piece
  let pending = `{"v":1,"store":{"index":${JSON.stringify(p.store.index)},"tables":{`;
  let firstTable = true;
  for (const [kind, objs] of Object.entries(p.store.tables)) {
    if (objs === undefined) continue;
    pending += `${firstTable ? '' : ','}${JSON.stringify(kind)}:[`;
    firstTable = false;
    for (let at = 0; at < objs.length; at += SNAPSHOT_SLICE) {
      const before = pending + (at > 0 ? ',' : '');
      pending = '';
      const from = at;
      // a slice as one array, without its brackets: the same bytes as its objects' JSON joined by commas, in one
      // native call instead of one per object (a quarter less time, issue 16)
      makers.push(() => before + JSON.stringify((objs as unknown[]).slice(from, from + SNAPSHOT_SLICE)).slice(1, -1));
    }
    pending += ']';
  }
  const tail = `${pending}}},"members":${JSON.stringify(p.members)},"removed":${JSON.stringify(p.removed)}}`;
  makers.push(() => tail);
  return makers;
}

export function decodeSnapshotPayload(data: Uint8Array): SnapshotPayload {
  const v = JSON.parse(dec.decode(data)) as SnapshotPayload;
  if (v.v !== 1 || !v.store) throw invalidArgument('unknown raft snapshot payload');
  return v;
}
