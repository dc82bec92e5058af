// The state and the replication half of the Raft state machine: configuration, role transitions,
// sending appends/heartbeats/snapshots under flow control, commitment. raft.ts adds ticks, elections,
// message handling and the public operations on top.
// Pure: no clocks, no randomness but the Rng port, no I/O (messages pile up in `msgs`).

import { invalidArgument } from '../lib/errors';
import { Rng } from '../lib/ports';
import { RaftLog } from './log';
import { Progress, committedIndex, quorum } from './progress';
import { ReadOnly } from './readonly';
import { Storage } from './storage';
import {
  CompactedError,
  ConfState,
  Entry,
  HardState,
  Message,
  NONE,
  RaftPanic,
  ReadState,
  Role,
  Snapshot,
  SnapshotTemporarilyUnavailableError,
  isEmptyHardState,
  isValidNodeId,
} from './types';

export interface RaftConfig {
  id: number;
  /** Ticks without hearing from a leader before campaigning (randomized in [electionTick, 2*electionTick)). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be < electionTick. */
  heartbeatTick: number;
  storage: Storage;
  rng: Rng;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Appends in flight per follower in replicate state (default 256). */
  maxInflightMsgs?: number;
  /** Entries per append message (default 64). */
  maxEntriesPerMsg?: number;
  /** Last index the state machine had applied when restarting (must not exceed the conf state in storage). */
  applied?: number;
}

export type SendMsg = Omit<Message, 'from' | 'term'> & { term?: number };

export class RaftCore {
  readonly id: number;
  term = 0;
  vote = NONE;
  lead = NONE;
  role: Role = 'follower';
  readonly log: RaftLog;
  prs = new Map<number, Progress>();
  protected votes = new Map<number, boolean>();
  msgs: Message[] = [];
  readStates: ReadState[] = [];

  electionElapsed = 0;
  protected heartbeatElapsed = 0;
  protected randomizedElectionTimeout = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxInflight: number;
  readonly maxEntriesPerMsg: number;
  protected readonly rng: Rng;

  leadTransferee = NONE;
  /** Index of the latest conf change appended by this leader; a new one waits until it is applied. */
  pendingConfIndex = 0;
  /**
   * Leader: the index of the empty entry it appended on taking office. Once that is applied, so is every
   * entry an earlier term left in its log (0 when not leading).
   */
  termStartIndex = 0;
  protected readOnly = new ReadOnly();
  protected pendingReadIndex: Message[] = [];

  constructor(cfg: RaftConfig) {
    if (!isValidNodeId(cfg.id)) throw invalidArgument(`raft: invalid node id ${cfg.id}`);
    if (!(cfg.heartbeatTick > 0)) throw invalidArgument('raft: heartbeatTick must be > 0');
    if (!(cfg.electionTick > cfg.heartbeatTick)) throw invalidArgument('raft: electionTick must be > heartbeatTick');
    this.id = cfg.id;
    this.electionTimeout = cfg.electionTick;
    this.heartbeatTimeout = cfg.heartbeatTick;
    this.preVote = cfg.preVote ?? false;
    this.checkQuorum = cfg.checkQuorum ?? false;
    this.maxInflight = cfg.maxInflightMsgs ?? 256;
    this.maxEntriesPerMsg = cfg.maxEntriesPerMsg ?? 64;
    if (this.maxInflight < 1 || this.maxEntriesPerMsg < 1) throw invalidArgument('raft: maxInflightMsgs and maxEntriesPerMsg must be >= 1');
    this.rng = cfg.rng;
    this.log = new RaftLog(cfg.storage);
    const { hardState, confState } = cfg.storage.initialState();
    for (const v of confState.voters) this.prs.set(v, new Progress(1, this.maxInflight));
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    // Default: the state machine is restored from the latest snapshot, whose conf state we just loaded.
    let applied = cfg.applied;
    if (applied === undefined) {
      try {
        applied = cfg.storage.snapshot().metadata.index;
      } catch {
        applied = 0;
      }
    }
    if (applied > this.log.applied) this.log.appliedTo(applied);
    this.becomeFollower(this.term, NONE);
  }

  protected loadState(hs: HardState): void {
    if (hs.commit < this.log.committed || hs.commit > this.log.lastIndex()) {
      throw new RaftPanic(`hardstate commit ${hs.commit} is out of range [${this.log.committed}, ${this.log.lastIndex()}]`);
    }
    this.log.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  confState(): ConfState {
    return { voters: [...this.prs.keys()].sort((a, b) => a - b) };
  }

  promotable(): boolean {
    return this.prs.has(this.id);
  }

  // ---- sending ---------------------------------------------------------------------------------

  protected send(m: SendMsg): void {
    const msg = { ...m, from: this.id } as Message;
    if (m.term === undefined) msg.term = m.type === 'readIndex' || m.type === 'transferLeader' ? 0 : this.term;
    this.msgs.push(msg);
  }

  protected maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.maybeTerm(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        ents = this.log.entriesFrom(pr.next, this.maxEntriesPerMsg);
      } catch (e) {
        if (!(e instanceof CompactedError)) throw e;
      }
    }
    if (prevTerm === undefined || ents === undefined) {
      // The follower needs entries we no longer have: send the snapshot instead.
      if (!pr.recentActive) return false;
      let snap: Snapshot;
      try {
        snap = this.log.snapshot();
      } catch (e) {
        if (e instanceof SnapshotTemporarilyUnavailableError) return false;
        throw e;
      }
      if (snap.metadata.index === 0) throw new RaftPanic('need non-empty snapshot');
      pr.becomeSnapshot(snap.metadata.index);
      this.send({ to, type: 'snap', snapshot: snap });
      return true;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({ to, type: 'app', index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed });
    if (ents.length > 0) {
      if (pr.state === 'replicate') {
        const last = ents[ents.length - 1].index;
        pr.optimisticUpdate(last);
        pr.inflights.add(last);
      } else if (pr.state === 'probe') {
        pr.probeSent = true;
      }
    }
    return true;
  }

  protected sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  protected bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  protected bcastHeartbeat(ctx?: Uint8Array): void {
    const c = ctx ?? this.readOnly.lastPendingContext();
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      const m: SendMsg = { to: id, type: 'heartbeat', commit: Math.min(pr.match, this.log.committed) };
      if (c) m.context = c;
      this.send(m);
    }
  }

  protected sendTimeoutNow(to: number): void {
    this.send({ to, type: 'timeoutNow' });
  }

  // ---- role transitions ------------------------------------------------------------------------

  protected reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.rng.next() * this.electionTimeout);
    this.leadTransferee = NONE;
    this.votes.clear();
    const last = this.log.lastIndex();
    for (const id of [...this.prs.keys()]) {
      const pr = new Progress(last + 1, this.maxInflight);
      if (id === this.id) pr.match = last;
      this.prs.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.termStartIndex = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndex = [];
  }

  becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  protected becomeCandidate(): void {
    if (this.role === 'leader') throw new RaftPanic('invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  protected becomePreCandidate(): void {
    if (this.role === 'leader') throw new RaftPanic('invalid transition [leader -> pre-candidate]');
    // Neither term nor vote change: a pre-vote disturbs nobody.
    this.votes.clear();
    this.lead = NONE;
    this.role = 'precandidate';
  }

  protected becomeLeader(): void {
    if (this.role === 'follower') throw new RaftPanic('invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.prs.get(this.id);
    if (self) {
      self.becomeReplicate();
      self.recentActive = true;
    }
    // Commit an entry of our own term: that commits everything before it (Raft §5.4.2). No conf change
    // may be proposed until it is applied (the single-server-change fix).
    this.appendEntries([{ term: 0, index: 0, type: 'normal', data: new Uint8Array(0) }]);
    this.pendingConfIndex = this.termStartIndex = this.log.lastIndex();
    this.bcastAppend();
  }

  // ---- leader helpers --------------------------------------------------------------------------

  protected appendEntries(es: Entry[]): number {
    let li = this.log.lastIndex();
    const ents = es.map((e) => ({ ...e, term: this.term, index: ++li }));
    this.log.append(ents);
    this.prs.get(this.id)?.maybeUpdate(this.log.lastIndex());
    this.maybeCommit();
    return this.log.lastIndex();
  }

  protected maybeCommit(): boolean {
    const matches: number[] = [];
    for (const pr of this.prs.values()) matches.push(pr.match);
    if (matches.length === 0) return false;
    return this.log.maybeCommit(committedIndex(matches), this.term);
  }

  protected hasQuorum(ids: Set<number>): boolean {
    let n = 0;
    for (const id of this.prs.keys()) if (ids.has(id)) n++;
    return n >= quorum(this.prs.size);
  }
}
