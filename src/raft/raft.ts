// The Raft state machine proper: roles, elections (with pre-vote and check-quorum), replication with
// flow control, commitment, snapshots, single-step membership, leadership transfer and ReadIndex.
// Pure: no clocks (tick()), no randomness but the Rng port, no I/O (messages pile up in `msgs`).

import { invalidArgument } from '../lib/errors';
import { Rng } from '../lib/ports';
import { RaftLog } from './log';
import { Progress, committedIndex, quorum, tallyVotes, VoteResult } from './progress';
import { ReadOnly, ReadRequest } from './readonly';
import { Storage } from './storage';
import {
  CompactedError,
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  NONE,
  ProposalDropped,
  RaftPanic,
  ReadState,
  Role,
  Snapshot,
  SnapshotTemporarilyUnavailableError,
  TRANSFER_CONTEXT,
  bytesEqual,
  encodeConfChange,
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

type SendMsg = Omit<Message, 'from' | 'term'> & { term?: number };

export class Raft {
  readonly id: number;
  term = 0;
  vote = NONE;
  lead = NONE;
  role: Role = 'follower';
  readonly log: RaftLog;
  prs = new Map<number, Progress>();
  private votes = new Map<number, boolean>();
  msgs: Message[] = [];
  readStates: ReadState[] = [];

  electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxInflight: number;
  readonly maxEntriesPerMsg: number;
  private readonly rng: Rng;

  leadTransferee = NONE;
  /** Index of the latest conf change appended by this leader; a new one waits until it is applied. */
  pendingConfIndex = 0;
  private readOnly = new ReadOnly();
  private pendingReadIndex: Message[] = [];

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

  private loadState(hs: HardState): void {
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

  private send(m: SendMsg): void {
    const msg = { ...m, from: this.id } as Message;
    if (m.term === undefined) msg.term = m.type === 'readIndex' || m.type === 'transferLeader' ? 0 : this.term;
    this.msgs.push(msg);
  }

  private maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
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

  private sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  private bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(ctx?: Uint8Array): void {
    const c = ctx ?? this.readOnly.lastPendingContext();
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      const m: SendMsg = { to: id, type: 'heartbeat', commit: Math.min(pr.match, this.log.committed) };
      if (c) m.context = c;
      this.send(m);
    }
  }

  private sendTimeoutNow(to: number): void {
    this.send({ to, type: 'timeoutNow' });
  }

  // ---- role transitions ------------------------------------------------------------------------

  private reset(term: number): void {
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
    this.readOnly = new ReadOnly();
    this.pendingReadIndex = [];
  }

  becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomeCandidate(): void {
    if (this.role === 'leader') throw new RaftPanic('invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomePreCandidate(): void {
    if (this.role === 'leader') throw new RaftPanic('invalid transition [leader -> pre-candidate]');
    // Neither term nor vote change: a pre-vote disturbs nobody.
    this.votes.clear();
    this.lead = NONE;
    this.role = 'precandidate';
  }

  private becomeLeader(): void {
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
    this.pendingConfIndex = this.log.lastIndex();
    this.bcastAppend();
  }

  // ---- ticks -----------------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      if (this.leadTransferee !== NONE) this.leadTransferee = NONE; // transfer timed out
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  /** True when a quorum was heard from in this window; resets the window. */
  private quorumActive(): boolean {
    let active = 0;
    for (const [id, pr] of this.prs) {
      if (id === this.id || pr.recentActive) active++;
      if (id !== this.id) pr.recentActive = false;
    }
    return active >= quorum(this.prs.size);
  }

  // ---- elections -------------------------------------------------------------------------------

  /** Start an election (after pre-vote if enabled) unless we cannot lead. */
  hup(transfer: boolean): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChange()) return;
    this.campaign(this.preVote && !transfer ? 'pre' : 'election', transfer);
  }

  private hasUnappliedConfChange(): boolean {
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    if (this.log.committed < lo) return false;
    for (const e of this.log.slice(lo, this.log.committed + 1)) if (e.type === 'conf') return true;
    return false;
  }

  private campaign(kind: 'pre' | 'election', transfer: boolean): void {
    let type: MessageType;
    let term: number;
    if (kind === 'pre') {
      this.becomePreCandidate();
      type = 'preVote';
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      type = 'vote';
      term = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      if (kind === 'pre') this.campaign('election', transfer);
      else this.becomeLeader();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const id of this.prs.keys()) {
      if (id === this.id) continue;
      const m: SendMsg = { to: id, type, term, index, logTerm };
      if (transfer) m.context = TRANSFER_CONTEXT;
      this.send(m);
    }
  }

  private poll(id: number, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    return tallyVotes(this.prs.keys(), this.votes).result;
  }

  // ---- step ------------------------------------------------------------------------------------

  step(m: Message): void {
    if (m.term === 0) {
      // forwarded requests carry no term
    } else if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = bytesEqual(m.context, TRANSFER_CONTEXT);
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        // We heard from a leader within the election timeout: ignore a disruptive candidate.
        if (!force && inLease) return;
      }
      if (m.type === 'preVote') {
        // a pre-vote never changes our term
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // granted at the future term; we bump our term when a quorum says yes
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader (e.g. back from a partition): tell it our term so it steps down. Without this,
        // pre-vote/check-quorum could leave it, and the nodes it keeps out of date, stuck.
        this.send({ to: m.from, type: 'appResp' });
      } else if (m.type === 'preVote') {
        this.send({ to: m.from, type: 'preVoteResp', term: this.term, reject: true });
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      const respType: MessageType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
      const canVote =
        this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (m.type === 'preVote' && m.term > this.term);
      if (canVote && this.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)) {
        this.send({ to: m.from, type: respType, term: m.term, reject: false });
        if (m.type === 'vote') {
          this.electionElapsed = 0;
          this.vote = m.from;
        }
      } else {
        this.send({ to: m.from, type: respType, term: this.term, reject: true });
      }
      return;
    }

    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        break;
      case 'candidate':
      case 'precandidate':
        this.stepCandidate(m);
        break;
      case 'follower':
        this.stepFollower(m);
        break;
    }
  }

  private stepLeader(m: Message): void {
    if (m.type === 'readIndex') return this.leaderReadIndex(m);
    if (m.type === 'transferLeader') return this.transferLeadership(m.from);
    const pr = this.prs.get(m.from);
    if (!pr) return;
    if (m.type === 'appResp') {
      pr.recentActive = true;
      const index = m.index ?? 0;
      if (m.reject) {
        let hint = m.rejectHint ?? 0;
        if ((m.logTerm ?? 0) > 0) hint = this.log.findConflictByTerm(hint, m.logTerm ?? 0);
        if (pr.maybeDecrTo(index, hint)) {
          if (pr.state === 'replicate') pr.becomeProbe();
          this.sendAppend(m.from);
        }
        return;
      }
      const oldPaused = pr.isPaused();
      if (!pr.maybeUpdate(index)) return;
      if (pr.state === 'probe') pr.becomeReplicate();
      else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === 'replicate') pr.inflights.freeLE(index);

      if (this.maybeCommit()) {
        this.releasePendingReadIndex();
        this.bcastAppend();
      } else if (oldPaused) {
        this.sendAppend(m.from);
      }
      while (this.maybeSendAppend(m.from, false)) {
        // keep the pipe full
      }
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
    } else if (m.type === 'heartbeatResp') {
      pr.recentActive = true;
      pr.probeSent = false;
      if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
      if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
      if (m.context && m.context.length > 0) {
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (acks && this.hasQuorum(acks)) this.releaseReads(this.readOnly.advance(m.context));
      }
    }
  }

  private stepCandidate(m: Message): void {
    const myResp: MessageType = this.role === 'precandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'voteResp':
      case 'preVoteResp': {
        if (m.type !== myResp) return;
        const res = this.poll(m.from, !m.reject);
        if (res === 'won') {
          if (this.role === 'precandidate') this.campaign('election', false);
          else this.becomeLeader();
        } else if (res === 'lost') {
          // A pre-vote response may carry a newer term than ours: step down at our own term.
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return; // timeoutNow, readIndex, transferLeader: no leader to serve them
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'transferLeader':
      case 'readIndex':
        if (this.lead === NONE) return; // dropped: no leader known
        this.msgs.push({ ...m, to: this.lead });
        return;
      case 'timeoutNow':
        this.hup(true);
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index ?? 0, context: m.context ?? new Uint8Array(0) });
        return;
      default:
        return;
    }
  }

  // ---- follower handlers -----------------------------------------------------------------------

  private handleAppend(m: Message): void {
    const index = m.index ?? 0;
    if (index < this.log.committed) {
      this.send({ to: m.from, type: 'appResp', index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(index, m.logTerm ?? 0, m.commit ?? 0, m.entries ?? []);
    if (lastNew !== undefined) {
      this.send({ to: m.from, type: 'appResp', index: lastNew });
      return;
    }
    // Mismatch: hint the leader at the largest index that could match, skipping whole terms.
    const hint = this.log.findConflictByTerm(Math.min(index, this.log.lastIndex()), m.logTerm ?? 0);
    this.send({ to: m.from, type: 'appResp', index, reject: true, rejectHint: hint, logTerm: this.log.term(hint) });
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit ?? 0, this.log.lastIndex()));
    const resp: SendMsg = { to: m.from, type: 'heartbeatResp' };
    if (m.context) resp.context = m.context;
    this.send(resp);
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (s && this.restore(s)) this.send({ to: m.from, type: 'appResp', index: this.log.lastIndex() });
    else this.send({ to: m.from, type: 'appResp', index: this.log.committed });
  }

  /** Install a snapshot from the leader; false if it brings nothing new. */
  private restore(s: Snapshot): boolean {
    const { index, term } = s.metadata;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // We already have the entries: just fast-forward the commit index.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(s);
    this.prs = new Map();
    for (const v of s.metadata.confState.voters) this.prs.set(v, new Progress(this.log.lastIndex() + 1, this.maxInflight));
    return true;
  }

  // ---- leader helpers --------------------------------------------------------------------------

  private appendEntries(es: Entry[]): number {
    let li = this.log.lastIndex();
    const ents = es.map((e) => ({ ...e, term: this.term, index: ++li }));
    this.log.append(ents);
    this.prs.get(this.id)?.maybeUpdate(this.log.lastIndex());
    this.maybeCommit();
    return this.log.lastIndex();
  }

  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const pr of this.prs.values()) matches.push(pr.match);
    if (matches.length === 0) return false;
    return this.log.maybeCommit(committedIndex(matches), this.term);
  }

  private hasQuorum(ids: Set<number>): boolean {
    let n = 0;
    for (const id of this.prs.keys()) if (ids.has(id)) n++;
    return n >= quorum(this.prs.size);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private leaderReadIndex(m: Message): void {
    if (!this.committedEntryInCurrentTerm()) {
      // Until our first entry commits we do not know the true commit index: hold the request.
      this.pendingReadIndex.push(m);
      return;
    }
    const ctx = m.context ?? new Uint8Array(0);
    this.readOnly.add(this.log.committed, m);
    const acks = this.readOnly.recvAck(this.id, ctx);
    if (acks && this.hasQuorum(acks)) {
      this.releaseReads(this.readOnly.advance(ctx));
      return;
    }
    this.bcastHeartbeat(ctx);
  }

  private releasePendingReadIndex(): void {
    if (this.pendingReadIndex.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndex;
    this.pendingReadIndex = [];
    for (const m of pending) this.leaderReadIndex(m);
  }

  private releaseReads(rss: ReadRequest[]): void {
    for (const rs of rss) {
      const ctx = rs.req.context ?? new Uint8Array(0);
      if (rs.req.from === NONE || rs.req.from === this.id) this.readStates.push({ index: rs.index, context: ctx });
      else this.send({ to: rs.req.from, type: 'readIndexResp', index: rs.index, context: ctx });
    }
  }

  // ---- public operations (called through RawNode) ----------------------------------------------

  propose(data: Uint8Array): number {
    this.checkCanPropose();
    const idx = this.appendEntries([{ term: 0, index: 0, type: 'normal', data }]);
    this.bcastAppend();
    return idx;
  }

  proposeConfChange(cc: ConfChange): number {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.applied) {
      throw new ProposalDropped(`conf change pending (index ${this.pendingConfIndex}, applied ${this.log.applied})`);
    }
    const data = encodeConfChange(cc);
    if (cc.type === 'addNode' && this.prs.has(cc.nodeId)) throw invalidArgument(`raft: node ${cc.nodeId} is already a member`);
    if (cc.type === 'removeNode') {
      if (!this.prs.has(cc.nodeId)) throw invalidArgument(`raft: node ${cc.nodeId} is not a member`);
      if (this.prs.size === 1) throw invalidArgument('raft: cannot remove the last member');
    }
    const idx = this.appendEntries([{ term: 0, index: 0, type: 'conf', data }]);
    this.pendingConfIndex = idx;
    this.bcastAppend();
    return idx;
  }

  private checkCanPropose(): void {
    if (this.role !== 'leader') throw new ProposalDropped('not the leader');
    if (this.leadTransferee !== NONE) throw new ProposalDropped('leadership transfer in progress');
    if (!this.prs.has(this.id)) throw new ProposalDropped('removed from the configuration');
  }

  applyConfChange(cc: ConfChange): ConfState {
    if (cc.type === 'addNode') {
      if (!this.prs.has(cc.nodeId)) {
        const pr = new Progress(this.log.lastIndex() + 1, this.maxInflight);
        pr.recentActive = true; // give a new member a full window before check-quorum counts it
        this.prs.set(cc.nodeId, pr);
      }
    } else {
      this.prs.delete(cc.nodeId);
      this.votes.delete(cc.nodeId);
    }
    if (this.role === 'leader') {
      if (!this.prs.has(this.id)) {
        this.stepDownRemoved();
      } else {
        if (this.leadTransferee !== NONE && !this.prs.has(this.leadTransferee)) this.leadTransferee = NONE;
        if (this.maybeCommit()) {
          this.releasePendingReadIndex();
          this.bcastAppend();
        } else {
          for (const id of this.prs.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
        }
      }
    }
    return this.confState();
  }

  /** We applied our own removal: tell the others the commit index, hand over to the most caught-up voter, step down. */
  private stepDownRemoved(): void {
    this.maybeCommit();
    this.bcastAppend();
    let best = NONE;
    let bestMatch = -1;
    for (const [id, pr] of this.prs) {
      if (pr.match > bestMatch) {
        best = id;
        bestMatch = pr.match;
      }
    }
    if (best !== NONE && bestMatch === this.log.lastIndex()) this.sendTimeoutNow(best);
    this.becomeFollower(this.term, NONE);
  }

  transferLeadership(transferee: number): void {
    if (this.role !== 'leader') {
      if (this.lead !== NONE && transferee !== this.lead) {
        this.msgs.push({ type: 'transferLeader', from: transferee, to: this.lead, term: 0 });
      }
      return;
    }
    if (!this.prs.has(transferee) || transferee === this.id) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.leadTransferee = NONE;
    }
    this.electionElapsed = 0; // the transfer must finish within one election timeout
    this.leadTransferee = transferee;
    const pr = this.prs.get(transferee);
    if (pr && pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee);
  }

  readIndex(ctx: Uint8Array): void {
    const m: Message = { type: 'readIndex', from: this.id, to: this.id, term: 0, context: ctx };
    if (this.role === 'leader') this.leaderReadIndex(m);
    else if (this.role === 'follower') this.stepFollower(m);
    // candidates drop it: the caller retries
  }

  reportUnreachable(id: number): void {
    const pr = this.prs.get(id);
    if (this.role === 'leader' && pr && pr.state === 'replicate') pr.becomeProbe();
  }

  reportSnapshot(id: number, ok: boolean): void {
    const pr = this.prs.get(id);
    if (this.role !== 'leader' || !pr || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's reply (or the next heartbeat) before probing.
    pr.probeSent = true;
  }
}
