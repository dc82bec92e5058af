// The Raft state machine proper: ticks, elections (with pre-vote and check-quorum), message handling,
// snapshots install, single-step membership, leadership transfer and ReadIndex. The state and the
// replication machinery live in core.ts.
// Pure: no clocks (tick()), no randomness but the Rng port, no I/O (messages pile up in `msgs`).

import { invalidArgument } from '../lib/errors';
import { Progress, quorum, tallyVotes, VoteResult } from './progress';
import { ReadRequest } from './readonly';
import { RaftCore, SendMsg } from './core';
import {
  ConfChange,
  ConfState,
  Message,
  MessageType,
  NONE,
  ProposalDropped,
  Snapshot,
  TRANSFER_CONTEXT,
  bytesEqual,
  encodeConfChange,
} from './types';

export type { RaftConfig } from './core';

export class Raft extends RaftCore {
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
      // Only forwarded requests carry no term; anything else without one is malformed.
      if (m.type !== 'readIndex' && m.type !== 'transferLeader') return;
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
      throw new ProposalDropped(`conf change pending (index ${this.pendingConfIndex}, applied ${this.log.applied})`, 'conf-change-pending');
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
    if (this.role !== 'leader') throw new ProposalDropped('not the leader', 'not-leader');
    if (this.leadTransferee !== NONE) throw new ProposalDropped('leadership transfer in progress', 'leadership-transfer');
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
