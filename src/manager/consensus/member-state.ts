// The in-memory Raft state of a member rebuilt from what its disk holds (restart, join, bootstrap,
// force-new-cluster): the log in a MemoryStorage, the store restored from the snapshot, the membership
// table, and the RawNode over them. Nothing runs yet; the driver starts the Ready loop and the ticker.
import { MemoryStorage, RawNode } from '../../raft';
import type { Rng } from '../../lib/ports';
import type { MemoryStore } from '../../store';
import { failedPrecondition } from '../../lib/errors';
import { decodeSnapshotPayload } from './codec';
import { MEMBER_REMOVED_MESSAGE } from './errors';
import { Membership } from './membership';
import { LOG_BYTES_IN_MEMORY, LOG_BYTES_READ_BACK, type DiskState } from './storage';

export interface RaftParams {
  id: number;
  electionTick: number;
  heartbeatTick: number;
  maxEntriesPerMsg: number;
  rng: Rng;
}

export interface MemberState {
  mem: MemoryStorage;
  rn: RawNode;
  membership: Membership;
  /** Index of the snapshot the member was opened from (0: none); the store already holds its state. */
  openedAt: number;
}

/** `peers`: the voters of a brand-new cluster (bootstrap); otherwise they come from the log and snapshot. */
export function rebuildMember(st: DiskState, store: MemoryStore, p: RaftParams, peers?: number[]): MemberState {
  const mem = new MemoryStorage(st.snapshot ? st.snapshot.metadata.confState : { voters: [] }, st.backing ? { backing: st.backing, keepBytes: LOG_BYTES_IN_MEMORY, readBackBytes: LOG_BYTES_READ_BACK } : undefined);
  let openedAt = 0;
  if (st.snapshot) {
    mem.applySnapshot(st.snapshot);
    const payload = decodeSnapshotPayload(st.snapshot.data);
    store.restore(payload.store);
    openedAt = st.snapshot.metadata.index;
  }
  mem.append(st.entries);
  mem.setHardState(st.hardState);
  const membership = new Membership(p.id);
  // The latest table on disk is at least as new as the snapshot's; replayed conf entries refine it.
  membership.reset(st.members, st.removed);
  if (membership.isRemoved(p.id)) throw failedPrecondition(MEMBER_REMOVED_MESSAGE);
  const rn = new RawNode({
    id: p.id,
    electionTick: p.electionTick,
    heartbeatTick: p.heartbeatTick,
    // a snapshot Raft sends carries its payload from the moment it is taken (MemoryStorage.raftView)
    storage: mem.raftView(),
    rng: p.rng,
    preVote: true,
    checkQuorum: true,
    maxEntriesPerMsg: p.maxEntriesPerMsg,
    applied: openedAt,
    peers,
  });
  return { mem, rn, membership, openedAt };
}
