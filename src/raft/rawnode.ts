// The driver-facing wrapper: feeds ticks, messages and proposals to Raft and hands back Ready batches.

import { invalidArgument } from '../lib/errors';
import { Raft, type RaftConfig } from './raft';
import { MemoryStorage, Storage } from './storage';
import {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MESSAGE_TYPES,
  ProgressStatus,
  Ready,
  SoftState,
  Status,
  encodeConfChange,
  hardStateEqual,
  isEmptyHardState,
} from './types';

/** The core's settings plus the one a RawNode adds for a brand-new cluster. */
export interface RawNodeConfig extends RaftConfig {
  /**
   * Bootstrap a brand-new cluster with these voters: only with an empty log. The bootstrap writes one
   * committed addNode entry per peer at term 1 (handed out in the first Ready like any other entries,
   * so the driver persists them and applies them through applyConfChange, which is idempotent).
   */
  peers?: number[];
}

const VALID_TYPES = new Set<string>(MESSAGE_TYPES);

export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;

  constructor(cfg: RawNodeConfig) {
    this.raft = new Raft(cfg);
    if (cfg.peers && cfg.peers.length > 0) this.bootstrap(cfg.peers, cfg.storage);
    this.prevSoft = this.softState();
    // A bootstrap must be persisted: start from an empty hard state so the first Ready carries it.
    this.prevHard = cfg.peers && cfg.peers.length > 0 ? { term: 0, vote: 0, commit: 0 } : this.raft.hardState();
  }

  private bootstrap(peers: number[], storage: Storage): void {
    if (storage.lastIndex() !== 0 || storage.firstIndex() !== 1) throw invalidArgument('raft: bootstrap requires an empty log');
    const r = this.raft;
    if (r.term !== 0) throw invalidArgument('raft: bootstrap requires an empty hard state');
    r.becomeFollower(1, 0);
    const ents: Entry[] = peers.map((id, i) => ({
      term: 1,
      index: i + 1,
      type: 'conf',
      data: encodeConfChange({ type: 'addNode', nodeId: id }),
    }));
    r.log.append(ents);
    r.log.committed = ents.length;
    for (const id of peers) r.applyConfChange({ type: 'addNode', nodeId: id });
  }

  private softState(): SoftState {
    return { leader: this.raft.lead, role: this.raft.role };
  }

  tick(): void {
    this.raft.tick();
  }

  /** Start an election now (pre-vote first if enabled). */
  campaign(): void {
    this.raft.hup(false);
  }

  /** Feed a message received from a peer. Unknown types and messages not addressed to us are ignored. */
  step(m: Message): void {
    if (!VALID_TYPES.has(m.type) || m.to !== this.raft.id) return;
    this.raft.step(m);
  }

  /** Append data on the leader; returns its index. Throws ProposalDropped when not leader or transferring. */
  propose(data: Uint8Array): number {
    return this.raft.propose(data);
  }

  /** Propose one membership change; throws ProposalDropped while another is pending (uncommitted or unapplied). */
  proposeConfChange(cc: ConfChange): number {
    return this.raft.proposeConfChange(cc);
  }

  /** Apply a committed conf change (call for every committed 'conf' entry, in order). */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  transferLeadership(to: number): void {
    this.raft.transferLeadership(to);
  }

  /** Request a linearizable read; a ReadState with the same context comes back in a later Ready. */
  readIndex(ctx: Uint8Array): void {
    this.raft.readIndex(ctx);
  }

  reportUnreachable(id: number): void {
    this.raft.reportUnreachable(id);
  }

  reportSnapshot(id: number, ok: boolean): void {
    this.raft.reportSnapshot(id, ok);
  }

  hasReady(): boolean {
    const r = this.raft;
    const ss = this.softState();
    if (ss.leader !== this.prevSoft.leader || ss.role !== this.prevSoft.role) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHard)) return true;
    if (r.log.unstable.snapshot) return true;
    if (r.msgs.length > 0 || r.readStates.length > 0) return true;
    if (r.log.unstable.entries.length > 0) return true;
    return r.log.hasNextCommittedEnts();
  }

  /** The pending work. Messages and read states are handed over now; call advance(rd) when done. */
  ready(): Ready {
    const r = this.raft;
    const rd: Ready = {
      entries: r.log.unstableEntries(),
      committedEntries: r.log.nextCommittedEnts(),
      messages: r.msgs,
      readStates: r.readStates,
    };
    r.msgs = [];
    r.readStates = [];
    const ss = this.softState();
    if (ss.leader !== this.prevSoft.leader || ss.role !== this.prevSoft.role) rd.softState = ss;
    const hs = r.hardState();
    if (!hardStateEqual(hs, this.prevHard)) rd.hardState = hs;
    if (r.log.unstable.snapshot) rd.snapshot = r.log.unstable.snapshot;
    return rd;
  }

  /** The driver has persisted, sent and applied everything in rd. */
  advance(rd: Ready): void {
    const r = this.raft;
    if (rd.softState) this.prevSoft = rd.softState;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) {
      r.log.stableSnapTo(rd.snapshot.metadata.index);
      if (rd.snapshot.metadata.index > r.log.applied) r.log.applied = rd.snapshot.metadata.index;
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1];
      r.log.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) r.log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1].index);
  }

  status(): Status {
    const r = this.raft;
    const st: Status = {
      id: r.id,
      term: r.term,
      vote: r.vote,
      leader: r.lead,
      role: r.role,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      voters: r.confState().voters,
      leadTransferee: r.leadTransferee,
    };
    if (r.role === 'leader') {
      const progress = new Map<number, ProgressStatus>();
      for (const [id, pr] of r.prs) progress.set(id, { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive });
      st.progress = progress;
    }
    return st;
  }
}

/** Convenience for tests and single-process use: a storage preloaded for a hand-built configuration. */
export function newMemoryStorage(voters: number[] = []): MemoryStorage {
  return new MemoryStorage({ voters });
}
