// The Raft driver of a manager (docs/design/consensus.md): owns a RawNode, its durable storage and the
// Ready loop (persist with fsync → send → apply → advance → compact, one Ready at a time), and is the
// store's Proposer. Work arriving while a Ready is persisted goes out in the next one (group commit).
import type { Clock, Rng } from '../../lib/ports';
import { failedPrecondition, invalidArgument, isKind, unavailable } from '../../lib/errors';
import { MemoryStorage, RawNode, decodeConfChange, type ConfState, type Entry, type Message, type Ready, type Role } from '../../raft';
import type { Change, MemoryStore, Proposer } from '../../store';
import { decodeChanges, decodeMember, decodeSnapshotPayload, encodeChanges, encodeMember, encodeSnapshotPayload, type RaftMember } from './codec';
import { CANNOT_REMOVE_MESSAGE, LostLeadershipError, MEMBER_REMOVED_MESSAGE, NotLeaderError, noLeader } from './errors';
import { Membership, type MemberStatus } from './membership';
import { RaftDiskStorage, type DiskState } from './storage';
import type { JoinResponse, RaftServiceTarget, RaftTransport, RaftTransportSink } from './transport-types';
import { forceNewClusterState } from './force-new-cluster';
import { defaultRng, defaultTimers, silentLogger, type ConsensusLogger, type RaftConsensusOptions, type Timers } from './options';
import { ReadWaiters } from './read-waiters';
import { coalesceMessages } from './coalesce';
import { LeaderWatch } from './leader-watch';

interface Pending {
  term: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

type State = 'new' | 'running' | 'stopped' | 'removed';

/** What a leader may send before its own persist completes (nothing here acknowledges or votes). */
const EARLY_TYPES = new Set<Message['type']>(['app', 'heartbeat']);


export class RaftConsensus implements Proposer, RaftServiceTarget, RaftTransportSink {
  private readonly disk: RaftDiskStorage;
  private readonly store: MemoryStore;
  private readonly transport: RaftTransport;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly rng: Rng;
  private readonly log: ConsensusLogger;
  readonly tickMs: number;
  readonly electionTick: number;
  private readonly heartbeatTick: number;
  private readonly snapshotInterval: number;
  private readonly keepEntries: number;
  private readonly maxEntriesPerMsg: number;

  private id = 0;
  private state: State = 'new';
  private rn!: RawNode;
  private mem!: MemoryStorage;
  private membership!: Membership;
  private confState: ConfState = { voters: [] };
  private appliedIndex = 0;
  private snapshotIndex = 0;
  private lead = 0;
  private role: Role = 'follower';
  private ticker: unknown = null;
  private loopActive = false;
  private loopIdle: Promise<void> = Promise.resolve();
  private loopIdleResolve: (() => void) | null = null;
  private readonly pending = new Map<number, Pending>();
  private reads!: ReadWaiters;
  private readonly leaderListeners = new Set<(isLeader: boolean, leader: number) => void>();
  private readonly removedListeners = new Set<() => void>();
  private readonly leaderWaiters = new Set<() => void>();
  private watch: LeaderWatch | null = null;
  private compacting: Promise<void> | null = null;

  constructor(opts: RaftConsensusOptions) {
    this.disk = new RaftDiskStorage(opts.dir);
    this.store = opts.store;
    this.transport = opts.transport;
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.timers = opts.timers ?? defaultTimers;
    this.rng = opts.rng ?? defaultRng;
    this.log = opts.logger ?? silentLogger;
    this.tickMs = opts.tickMs ?? 1000;
    this.electionTick = opts.electionTick ?? 10;
    this.heartbeatTick = opts.heartbeatTick ?? 1;
    this.snapshotInterval = opts.snapshotInterval ?? 10_000;
    this.keepEntries = opts.keepEntries ?? 500;
    this.maxEntriesPerMsg = opts.maxEntriesPerMsg ?? 1024;
    this.id = opts.raftId ?? 0;
    this.reads = new ReadWaiters(this.timers, this.rng);
  }

  /** True when `dir` already holds Raft state (restart) rather than nothing (bootstrap/join). */
  static hasState(dir: string): boolean {
    const d = new RaftDiskStorage(dir);
    const empty = d.isEmpty();
    void d.close();
    return !empty;
  }

  get raftId(): number {
    return this.id;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /** swarm init: a brand-new cluster whose members (normally just this one) are written as committed entries. */
  async bootstrap(opts: { members: RaftMember[] }): Promise<void> {
    this.requireNew();
    if (!this.disk.isEmpty()) throw failedPrecondition('raft: state directory is not empty');
    if (!opts.members.some((m) => m.raftId === this.id)) throw invalidArgument('raft: bootstrap members must include this node');
    await this.disk.saveIdentity(this.id, opts.members, []);
    this.open(this.disk.load(), opts.members.map((m) => m.raftId));
    await this.applyLocalCommitted(opts.members.length);
    if (opts.members.length === 1) this.rn.campaign();
    this.kick();
  }

  /** A member the leader added (see handleJoin / the Join RPC): start empty and catch up from the leader. */
  async join(opts: { members: RaftMember[]; removed?: number[] }): Promise<void> {
    this.requireNew();
    if (!this.disk.isEmpty()) throw failedPrecondition('raft: state directory is not empty');
    await this.disk.saveIdentity(this.id, opts.members, opts.removed ?? []);
    this.open(this.disk.load());
  }

  /** Reopen from disk after a stop or a crash. */
  async restart(): Promise<void> {
    this.requireNew();
    const st = this.disk.load();
    if (!st.raftId) throw failedPrecondition('raft: no state to restart from');
    if (this.id && this.id !== st.raftId) throw invalidArgument(`raft: directory belongs to raft member ${st.raftId}, not ${this.id}`);
    this.id = st.raftId;
    this.open(st);
    await this.applyLocalCommitted(st.hardState.commit);
    // A lone voter need not wait out an election timeout.
    if (this.confState.voters.length === 1 && this.confState.voters[0] === this.id) this.rn.campaign();
    this.kick();
  }

  /** swarm init --force-new-cluster: keep the committed state, drop everyone else, lead a new term. */
  async forceNewCluster(): Promise<void> {
    this.requireNew();
    const st = this.disk.load();
    if (!st.raftId) throw failedPrecondition('raft: no state to recover');
    this.id = st.raftId;
    const forced = forceNewClusterState(st);
    await this.disk.persist({ entries: forced.appended, hardState: forced.state.hardState, truncateFrom: forced.truncateFrom });
    this.open(forced.state);
    // Apply the committed removals before campaigning: only then are we the sole voter.
    await this.applyLocalCommitted(forced.state.hardState.commit);
    this.rn.campaign();
    this.kick();
  }

  /** Runs the Ready loop until everything committed on disk is applied (conf entries included). */
  private async applyLocalCommitted(commit: number): Promise<void> {
    for (let i = 0; i < 10_000 && this.state === 'running' && this.appliedIndex < commit; i++) {
      this.kick();
      await this.loopIdle;
    }
  }

  /** Stops ticking, lets the current Ready finish, rejects waiters, closes the transport and the log. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasOpen = this.state !== 'new';
    this.state = 'stopped';
    if (this.ticker !== null) this.timers.clearInterval(this.ticker);
    this.ticker = null;
    await this.loopIdle;
    await this.compacting;
    this.failAll(unavailable('raft: stopped'));
    if (wasOpen) await this.transport.close();
    await this.disk.close();
  }

  /** Test hook for a kill -9: stop timers and drop all I/O at once; nothing is flushed or closed. */
  crash(): void {
    this.state = 'stopped';
    if (this.ticker !== null) this.timers.clearInterval(this.ticker);
    this.ticker = null;
    void this.transport.close();
  }

  private requireNew(): void {
    if (this.state !== 'new') throw failedPrecondition('raft: already started');
    if (!this.id && this.disk.isEmpty()) throw invalidArgument('raft: raftId is required');
  }

  private open(st: DiskState, peers?: number[]): void {
    this.mem = new MemoryStorage(st.snapshot ? st.snapshot.metadata.confState : { voters: [] });
    if (st.snapshot) {
      this.mem.applySnapshot(st.snapshot);
      const payload = decodeSnapshotPayload(st.snapshot.data);
      this.store.restore(payload.store);
      this.snapshotIndex = this.appliedIndex = st.snapshot.metadata.index;
    }
    this.mem.append(st.entries);
    this.mem.setHardState(st.hardState);
    this.membership = new Membership(this.id);
    // The latest table on disk is at least as new as the snapshot's; replayed conf entries refine it.
    this.membership.reset(st.members, st.removed);
    if (this.membership.isRemoved(this.id)) throw failedPrecondition(MEMBER_REMOVED_MESSAGE);
    this.confState = this.mem.initialState().confState;
    this.rn = new RawNode({
      id: this.id,
      electionTick: this.electionTick,
      heartbeatTick: this.heartbeatTick,
      storage: this.mem,
      rng: this.rng,
      preVote: true,
      checkQuorum: true,
      maxEntriesPerMsg: this.maxEntriesPerMsg,
      applied: this.appliedIndex,
      peers,
    });
    this.transport.bind(this);
    const probe = this.transport.probe?.bind(this.transport);
    this.watch = probe
      ? new LeaderWatch(
          {
            followerView: () => (this.state === 'running' && this.rn.raft.role === 'follower' && this.rn.raft.lead !== 0 ? { lead: this.rn.raft.lead, term: this.rn.raft.term } : undefined),
            probe,
            forceCampaign: (reason) => {
              this.log.info({ reason }, 'raft: leader is down; campaigning now');
              this.rn.raft.hup(true);
              this.kick();
            },
          },
          { rng: this.rng, timers: this.timers, tickMs: this.tickMs, silenceTicks: Math.max(3, 2 * this.heartbeatTick + 1) },
        )
      : null;
    for (const m of this.membership.list()) if (m.raftId !== this.id && m.addr) this.transport.setPeer(m.raftId, m.addr);
    this.state = 'running';
    this.ticker = this.timers.setInterval(() => this.tick(), this.tickMs);
  }

  private tick(): void {
    if (this.state !== 'running') return;
    this.rn.tick();
    this.watch?.tick();
    this.kick();
  }

  // ---- Ready loop ----------------------------------------------------------------------------

  private kick(): void {
    if (this.loopActive || this.state !== 'running') return;
    this.loopActive = true;
    this.loopIdle = new Promise((r) => (this.loopIdleResolve = r));
    setImmediate(() => void this.runLoop());
  }

  private async runLoop(): Promise<void> {
    try {
      while (this.state === 'running' && this.rn.hasReady()) await this.handleReady(this.rn.ready());
    } catch (err) {
      // A storage failure: we can no longer promise durability. Stop participating.
      this.log.error({ err }, 'raft: ready loop failed; stopping');
      this.state = 'stopped';
      if (this.ticker !== null) this.timers.clearInterval(this.ticker);
      this.failAll(unavailable(`raft: stopped after a storage error: ${(err as Error).message}`));
    } finally {
      this.loopActive = false;
      this.loopIdleResolve?.();
    }
    if (this.state === 'running' && this.rn.hasReady()) this.kick();
  }

  private async handleReady(rd: Ready): Promise<void> {
    // 1. durable: a vote, a term or an entry never leaves before it is on disk
    const hs = rd.hardState;
    const prev = this.mem.hardStateNow();
    // A Ready whose only durable change is the commit index writes nothing: the commit index is
    // recovered from the leader (or, for a lone voter, by re-committing its log) and is saved with the next entries.
    const termOrVote = !!hs && (hs.term !== prev.term || hs.vote !== prev.vote);
    const mustWrite = rd.entries.length > 0 || !!rd.snapshot || termOrVote;
    // Pipelining (Raft thesis §10.2.1): a leader whose term and vote are already durable sends its
    // appends and heartbeats before its own entries are; it counts itself in a quorum only once they are,
    // because commitment and apply happen in a later Ready, after this persist (one Ready at a time).
    let late = rd.messages;
    if (mustWrite && !termOrVote && !rd.snapshot && this.rn.raft.role === 'leader' && rd.messages.length > 0) {
      const early: Message[] = [];
      late = [];
      for (const m of rd.messages) (m.term === prev.term && EARLY_TYPES.has(m.type) ? early : late).push(m);
      if (early.length > 0) this.transport.send(coalesceMessages(early));
    }
    // An installed snapshot replaces the log and the snapshot pointer: let our own compaction finish first.
    if (rd.snapshot && this.compacting) await this.compacting;
    if (mustWrite) await this.disk.persist({ entries: rd.entries, hardState: hs, snapshot: rd.snapshot });
    if (rd.snapshot) this.mem.applySnapshot(rd.snapshot);
    this.mem.append(rd.entries);
    if (hs) this.mem.setHardState(hs);
    // 2. send
    if (late.length > 0) this.transport.send(coalesceMessages(late));
    // 3. apply
    if (rd.snapshot) this.applySnapshot(rd.snapshot.data, rd.snapshot.metadata.index, rd.snapshot.metadata.confState);
    let membershipChanged = !!rd.snapshot;
    for (const e of rd.committedEntries) membershipChanged = this.applyEntry(e) || membershipChanged;
    this.reads.ready(rd.readStates, this.appliedIndex);
    // 4. advance
    this.rn.advance(rd);
    if (membershipChanged) await this.disk.saveMembership(this.membership.list(), this.membership.removed());
    if (rd.softState) this.onSoftState(rd.softState.leader, rd.softState.role);
    if (this.state === 'running' && !this.compacting && this.appliedIndex - this.snapshotIndex >= this.snapshotInterval) this.compact();
  }

  private applySnapshot(data: Uint8Array, index: number, confState: ConfState): void {
    const payload = decodeSnapshotPayload(data);
    this.store.restore(payload.store);
    this.membership.reset(payload.members, [...new Set([...payload.removed, ...this.membership.removed()])]);
    this.confState = { voters: [...confState.voters] };
    this.appliedIndex = this.snapshotIndex = index;
    this.syncPeers();
    for (const [i, p] of this.pending) {
      if (i <= index) {
        this.pending.delete(i);
        p.reject(new LostLeadershipError());
      }
    }
  }

  /** Returns true when the membership table changed. */
  private applyEntry(e: Entry): boolean {
    if (e.index <= this.appliedIndex) return false;
    let changed = false;
    if (e.type === 'conf') {
      const cc = decodeConfChange(e.data);
      this.confState = this.rn.applyConfChange(cc);
      if (cc.type === 'addNode') {
        const m = this.membership.add(cc.nodeId, decodeMember(cc.context));
        if (m.raftId !== this.id && m.addr) this.transport.setPeer(m.raftId, m.addr);
      } else {
        this.membership.remove(cc.nodeId);
        this.transport.removePeer(cc.nodeId);
        if (cc.nodeId === this.id) this.markRemoved();
      }
      changed = true;
      this.store.applyCommitted(e.index, []);
    } else {
      let changes: Change[] = [];
      try {
        changes = decodeChanges(e.data);
      } catch (err) {
        this.log.error({ err, index: e.index }, 'raft: undecodable entry skipped');
      }
      this.store.applyCommitted(e.index, changes);
    }
    this.appliedIndex = e.index;
    const p = this.pending.get(e.index);
    if (p) {
      this.pending.delete(e.index);
      if (p.term === e.term) p.resolve();
      else p.reject(new LostLeadershipError());
    }
    return changed;
  }

  /**
   * Snapshot + compaction. The store is captured and encoded now (at the applied index); the file write,
   * its fsync and the lmdb pointer update run in the background so the Ready loop keeps committing.
   * Until they are durable the log on disk still holds every entry the snapshot covers.
   */
  private compact(): void {
    const index = this.appliedIndex;
    const storeSnap = this.store.snapshot();
    if (storeSnap.index !== index) this.log.warn({ storeIndex: storeSnap.index, index }, 'raft: store index differs from applied index');
    const data = encodeSnapshotPayload({ store: { ...storeSnap, index }, members: this.membership.list(), removed: this.membership.removed() });
    const snap = this.mem.createSnapshot(index, this.confState, data);
    const compactTo = index - this.keepEntries;
    this.compacting = this.disk
      .saveSnapshot(snap, Math.max(0, compactTo))
      .then(
        () => {
          if (this.state === 'stopped') return;
          if (compactTo >= this.mem.firstIndex()) this.mem.compact(compactTo);
          if (index > this.snapshotIndex) this.snapshotIndex = index;
          this.log.info({ index, compactTo }, 'raft: snapshot written, log compacted');
        },
        (err: unknown) => {
          if (this.state !== 'running') return;
          // As for any storage failure: durability can no longer be promised.
          this.log.error({ err }, 'raft: snapshot failed; stopping');
          this.state = 'stopped';
          if (this.ticker !== null) this.timers.clearInterval(this.ticker);
          this.ticker = null;
          this.failAll(unavailable(`raft: stopped after a storage error: ${(err as Error).message}`));
        },
      )
      .finally(() => {
        this.compacting = null;
      });
  }

  private onSoftState(leader: number, role: Role): void {
    const wasLeader = this.role === 'leader';
    const changed = leader !== this.lead || role !== this.role;
    this.lead = leader;
    this.role = role;
    if (wasLeader && role !== 'leader') {
      const err = leader === 0 ? noLeader() : new LostLeadershipError();
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    }
    if (leader === 0) this.reads.failAll(noLeader());
    if (changed) {
      for (const w of [...this.leaderWaiters]) w();
      for (const cb of this.leaderListeners) {
        try {
          cb(role === 'leader', leader);
        } catch (err) {
          this.log.warn({ err }, 'raft: leadership listener failed');
        }
      }
    }
  }

  // ---- proposals -----------------------------------------------------------------------------

  /** The store's Proposer: resolves once the changes are committed and applied here. */
  propose(changes: Change[]): Promise<void> {
    return this.proposeData(encodeChanges(changes), (data) => this.rn.propose(data));
  }

  private proposeData(data: Uint8Array, append: (d: Uint8Array) => number): Promise<void> {
    const refusal = this.refuseProposal();
    if (refusal) return Promise.reject(refusal);
    let index: number;
    try {
      index = append(data);
    } catch (e) {
      return Promise.reject(isKind(e, 'Unavailable') ? this.refuseProposal() ?? e : e);
    }
    const term = this.rn.raft.term;
    const p = new Promise<void>((resolve, reject) => this.pending.set(index, { term, resolve, reject }));
    this.kick();
    return p;
  }

  private refuseProposal(): Error | undefined {
    if (this.state === 'removed') return failedPrecondition(MEMBER_REMOVED_MESSAGE);
    if (this.state !== 'running') return unavailable('raft: not running');
    const st = this.rn.raft;
    if (st.role === 'leader') return st.leadTransferee ? unavailable('raft: leadership transfer in progress') : undefined;
    if (st.lead === 0) return noLeader();
    return new NotLeaderError(this.leaderRef(st.lead));
  }

  private leaderRef(raftId: number): { raftId: number; addr: string; nodeId: string } {
    const m = this.membership.get(raftId);
    return { raftId, addr: m?.addr ?? '', nodeId: m?.nodeId ?? '' };
  }

  // ---- inbound (RaftServiceTarget / RaftTransportSink) -------------------------------------------

  receive(messages: Message[], peerNodeId?: string): void {
    if (this.state === 'removed') throw failedPrecondition(MEMBER_REMOVED_MESSAGE);
    if (this.state !== 'running') throw unavailable('raft: not running');
    const now = this.clock.now();
    for (const m of messages) {
      if (this.membership.isRemoved(m.from)) throw failedPrecondition(MEMBER_REMOVED_MESSAGE);
      if (m.to !== this.id) throw failedPrecondition(`raft: message for member ${m.to} reached member ${this.id}`);
      const known = this.membership.get(m.from);
      if (peerNodeId && known?.nodeId && known.nodeId !== peerNodeId) {
        throw failedPrecondition(`raft: member ${m.from} belongs to node ${known.nodeId}, not ${peerNodeId}`);
      }
      this.membership.contact(m.from, now);
      if (m.from === this.rn.raft.lead) this.watch?.heardFromLeader();
      this.rn.step(m);
    }
    this.kick();
  }

  reportUnreachable(raftId: number): void {
    if (this.state === 'running') this.rn.reportUnreachable(raftId);
  }

  reportSnapshot(raftId: number, ok: boolean): void {
    if (this.state !== 'running') return;
    this.rn.reportSnapshot(raftId, ok);
    this.kick();
  }

  reportContact(raftId: number): void {
    if (this.state === 'running') this.membership.contact(raftId, this.clock.now());
  }

  reportRemoved(byRaftId: number): void {
    if (this.state !== 'running') return;
    this.log.warn({ by: byRaftId }, 'raft: a peer says this member was removed');
    this.markRemoved();
  }

  private markRemoved(): void {
    if (this.state === 'removed') return;
    this.state = 'removed';
    if (this.ticker !== null) this.timers.clearInterval(this.ticker);
    this.ticker = null;
    this.failAll(failedPrecondition(MEMBER_REMOVED_MESSAGE));
    for (const cb of this.removedListeners) cb();
  }

  resolveAddress(raftId: number): string | undefined {
    return this.membership?.get(raftId)?.addr;
  }

  // ---- membership ----------------------------------------------------------------------------

  /** Leader: a manager asks to join. Allocates a fresh raft ID and commits addNode; followers forward to the leader. */
  async handleJoin(req: { addr: string; nodeId: string }): Promise<JoinResponse> {
    const refusal = this.refuseProposal();
    if (refusal instanceof NotLeaderError && this.transport.forwardJoin && refusal.leader.addr) {
      return this.transport.forwardJoin(refusal.leader.addr, req);
    }
    if (refusal) throw refusal;
    const existing = this.membership.byNodeId(req.nodeId);
    let raftId: number;
    if (existing && existing.addr === req.addr) {
      raftId = existing.raftId; // a retried join
    } else {
      if (existing) await this.removeMember(existing.raftId);
      raftId = this.membership.allocateId(() => this.rng.next());
      await this.addMember({ raftId, addr: req.addr, nodeId: req.nodeId });
    }
    return { raftId, members: this.membership.list(), removed: this.membership.removed() };
  }

  /** Leader only: add a voter (single-step). Resolves when the change is applied here. */
  addMember(m: RaftMember): Promise<void> {
    if (this.membership?.isRemoved(m.raftId)) return Promise.reject(invalidArgument(`raft: member ID ${m.raftId} was removed and cannot be reused`));
    return this.proposeConf(encodeMember(m), (context) => this.rn.proposeConfChange({ type: 'addNode', nodeId: m.raftId, context }));
  }

  /**
   * Leader only: remove a voter. Refused when the remaining reachable members would not form a quorum.
   * Removing the leader itself first hands leadership over and then fails with NotLeaderError naming
   * the new leader, which the caller retries against.
   */
  async removeMember(raftId: number): Promise<void> {
    const refusal = this.refuseProposal();
    if (refusal) throw refusal;
    if (!this.confState.voters.includes(raftId)) throw invalidArgument(`raft: ${raftId} is not a member`);
    const remaining = this.confState.voters.filter((v) => v !== raftId);
    const reachable = this.members().filter((m) => m.raftId !== raftId && m.reachability === 'reachable').length;
    if (remaining.length > 0 && reachable < Math.floor(remaining.length / 2) + 1) throw failedPrecondition(CANNOT_REMOVE_MESSAGE);
    if (raftId === this.id && remaining.length > 0) {
      const to = await this.transferLeadership();
      throw new NotLeaderError(this.leaderRef(to));
    }
    await this.proposeConf(new Uint8Array(0), () => this.rn.proposeConfChange({ type: 'removeNode', nodeId: raftId }));
  }

  /** A conf change waits (bounded) while another one, or a new leader's first entry, is still unapplied. */
  private async proposeConf(data: Uint8Array, append: (d: Uint8Array) => number): Promise<void> {
    const deadline = this.clock.now() + this.tickMs * this.electionTick * 2;
    for (;;) {
      try {
        return await this.proposeData(data, append);
      } catch (e) {
        if (!(e instanceof Error) || !e.message.includes('conf change pending') || this.clock.now() > deadline) throw e;
        await new Promise((r) => this.timers.setTimeout(() => r(undefined), Math.min(this.tickMs, 20)));
      }
    }
  }

  /** Leader only: hand leadership to `to` (default: the most caught-up reachable voter). Resolves with the new leader. */
  async transferLeadership(to?: number): Promise<number> {
    const refusal = this.refuseProposal();
    if (refusal) throw refusal;
    const st = this.rn.status();
    let target = to ?? 0;
    if (!target) {
      let best = -1;
      for (const [id, pr] of st.progress ?? []) {
        if (id === this.id || !st.voters.includes(id) || !pr.recentActive) continue;
        if (pr.match > best) [best, target] = [pr.match, id];
      }
    }
    if (!target || target === this.id || !st.voters.includes(target)) throw failedPrecondition('raft: no member to transfer leadership to');
    this.rn.transferLeadership(target);
    this.kick();
    await this.waitFor(() => this.lead !== this.id && this.lead !== 0, this.tickMs * this.electionTick * 2, 'raft: leadership transfer timed out');
    return this.lead;
  }

  /** Resolves when `cond` holds after a leadership change, or rejects after `ms`. */
  private waitFor(cond: () => boolean, ms: number, msg: string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        this.leaderWaiters.delete(check);
        this.timers.clearTimeout(timer);
        resolve();
      };
      const timer = this.timers.setTimeout(() => {
        this.leaderWaiters.delete(check);
        reject(unavailable(msg));
      }, ms);
      this.leaderWaiters.add(check);
    });
  }

  // ---- reads and status ----------------------------------------------------------------------

  /** Linearizable read barrier: resolves with an index once this member has applied it. */
  readIndex(timeoutMs = this.tickMs * this.electionTick * 2): Promise<number> {
    const refusal = this.refuseProposal();
    if (refusal && !(refusal instanceof NotLeaderError)) return Promise.reject(refusal);
    const { ctx, done } = this.reads.add(timeoutMs);
    this.rn.readIndex(ctx);
    this.kick();
    return done;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.reads.failAll(err);
  }

  isLeader(): boolean {
    return this.state === 'running' && this.rn.raft.role === 'leader';
  }

  /** The current leader (undefined when none is known). */
  leader(): RaftMember | undefined {
    if (this.state !== 'running' || this.rn.raft.lead === 0) return undefined;
    const ref = this.leaderRef(this.rn.raft.lead);
    return ref;
  }

  /** Every voter with its address, node ID, leader flag and reachability (served from the leader for `docker node ls`). */
  members(): MemberStatus[] {
    if (!this.membership) return [];
    const running = this.state === 'running';
    return this.membership.statuses({
      voters: this.confState.voters,
      lead: running ? this.rn.raft.lead : 0,
      selfUp: running,
      now: this.clock.now(),
      windowMs: this.tickMs * this.electionTick,
      progress: running ? this.rn.status().progress : undefined,
    });
  }

  /** Calls `cb(isLeader, leaderRaftId)` on every leader or role change; returns an unsubscribe. */
  onLeadershipChange(cb: (isLeader: boolean, leaderRaftId: number) => void): () => void {
    this.leaderListeners.add(cb);
    return () => this.leaderListeners.delete(cb);
  }

  /** Calls `cb` once this member learns it was removed from the cluster. */
  onRemoved(cb: () => void): () => void {
    this.removedListeners.add(cb);
    return () => this.removedListeners.delete(cb);
  }

  status(): { raftId: number; term: number; leader: number; role: Role; commit: number; applied: number; snapshotIndex: number; firstIndex: number; lastIndex: number; voters: number[] } {
    const s = this.rn.status();
    return { raftId: this.id, term: s.term, leader: s.leader, role: s.role, commit: s.commit, applied: this.appliedIndex, snapshotIndex: this.snapshotIndex, firstIndex: this.mem.firstIndex(), lastIndex: s.lastIndex, voters: s.voters };
  }

  private syncPeers(): void {
    for (const m of this.membership.list()) if (m.raftId !== this.id && m.addr) this.transport.setPeer(m.raftId, m.addr);
    for (const id of this.membership.removed()) this.transport.removePeer(id);
  }
}
