// The Raft driver of a manager (docs/design/consensus.md): owns a RawNode and its durable storage,
// runs the member's lifecycle, and is the store's Proposer, the transport's sink and the Raft
// service's target. The Ready loop lives in ready-loop.ts, voter-set changes in membership-changes.ts,
// the Raft state rebuilt from disk in member-state.ts, the listeners it tells in member-events.ts.
import path from 'node:path';
import type { Clock, Rng } from '../../lib/ports';
import { failedPrecondition, invalidArgument, isKind, unavailable } from '../../lib/errors';
import type { MemoryStorage, RawNode, Message, Role } from '../../raft';
import type { Change, MemoryStore, Proposer } from '../../store';
import { encodeChanges, type RaftMember } from './codec';
import { LostLeadershipError, MAX_TRANSACTION_BYTES, MEMBER_REMOVED_MESSAGE, NotLeaderError, leadershipTransferInProgress, noLeader, requestTooLarge } from './errors';
import type { Membership, MemberStatus } from './membership';
import { rebuildMember } from './member-state';
import { MemberEvents, type LeadershipListener } from './member-events';
import { MembershipChanges } from './membership-changes';
import { PendingProposals } from './pending-proposals';
import { ReadyLoop, type DriverState, type SnapshotPolicy } from './ready-loop';
import { RaftDekFile, type RaftKeys } from './dek';
import { DEFAULT_DEK_FILE, RaftDiskStorage, type DiskState } from './storage';
import type { JoinResponse, RaftServiceTarget, RaftTransport, RaftTransportSink } from './transport-types';
import { forceNewClusterState } from './force-new-cluster';
import { defaultRng, defaultTimers, silentLogger, type ConsensusLogger, type ConsensusObserver, type RaftConsensusOptions, type Timers } from './options';
import { ReadWaiters } from './read-waiters';
import { LeaderWatch, campaignSlot } from './leader-watch';

export class RaftConsensus implements Proposer, RaftServiceTarget, RaftTransportSink {
  private readonly disk: RaftDiskStorage;
  private readonly store: MemoryStore;
  private readonly transport: RaftTransport;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly rng: Rng;
  private readonly log: ConsensusLogger;
  private readonly onFatal?: (err: Error) => void;
  private readonly observer?: ConsensusObserver;
  readonly tickMs: number;
  readonly electionTick: number;
  private readonly heartbeatTick: number;
  private snapshotPolicy: SnapshotPolicy;
  private readonly maxEntriesPerMsg: number;

  private id = 0;
  private state: DriverState = 'new';
  // Set by open(): the Raft state rebuilt from disk and the loop that drives it.
  private rn!: RawNode;
  private mem!: MemoryStorage;
  private membership!: Membership;
  private loop!: ReadyLoop;
  private lead = 0;
  private role: Role = 'follower';
  private ticker: unknown = null;
  private readonly proposals = new PendingProposals();
  private readonly reads: ReadWaiters;
  private readonly changes: MembershipChanges;
  private readonly events: MemberEvents;
  private watch: LeaderWatch | null = null;
  private readonly keys: RaftKeys | null;

  constructor(opts: RaftConsensusOptions) {
    this.keys = opts.keys === undefined ? RaftDekFile.open(path.join(opts.dir, DEFAULT_DEK_FILE)) : opts.keys;
    this.disk = new RaftDiskStorage(opts.dir, this.keys, { fsync: opts.fsync ?? true });
    this.disk.snapshots.keepOld = Math.max(0, opts.keepOldSnapshots ?? 0);
    this.store = opts.store;
    this.transport = opts.transport;
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.timers = opts.timers ?? defaultTimers;
    this.rng = opts.rng ?? defaultRng;
    this.log = opts.logger ?? silentLogger;
    this.events = new MemberEvents(this.log);
    this.onFatal = opts.onFatal;
    this.observer = opts.observer;
    this.tickMs = opts.tickMs ?? 1000;
    this.electionTick = opts.electionTick ?? 10;
    this.heartbeatTick = opts.heartbeatTick ?? 1;
    this.snapshotPolicy = { snapshotInterval: opts.snapshotInterval ?? 10_000, keepEntries: opts.keepEntries ?? 500 };
    this.maxEntriesPerMsg = opts.maxEntriesPerMsg ?? 1024;
    this.id = opts.raftId ?? 0;
    this.reads = new ReadWaiters(this.timers, this.rng);
    this.changes = new MembershipChanges(
      {
        selfId: () => this.id,
        rawNode: () => this.rn,
        membership: () => this.membership,
        voters: () => this.loop.confState.voters,
        members: () => this.members(),
        leader: () => this.lead,
        refuseProposal: () => this.refuseProposal(),
        proposeData: (data, append) => this.proposeData(data, append),
        leaderRef: (raftId) => this.leaderRef(raftId),
        kick: () => this.loop.kick(),
      },
      this.transport,
      { clock: this.clock, timers: this.timers, rng: this.rng, tickMs: this.tickMs, electionTick: this.electionTick },
    );
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
    this.loop.kick();
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
    await this.upgradeDisk();
    const st = this.disk.load();
    if (!st.raftId) throw failedPrecondition('raft: no state to restart from');
    if (this.id && this.id !== st.raftId) throw invalidArgument(`raft: directory belongs to raft member ${st.raftId}, not ${this.id}`);
    this.id = st.raftId;
    this.open(st);
    await this.applyLocalCommitted(st.hardState.commit);
    // A lone voter need not wait out an election timeout.
    const { voters } = this.loop.confState;
    if (voters.length === 1 && voters[0] === this.id) this.rn.campaign();
    this.loop.kick();
  }

  /** A log or snapshot a release before encryption at rest wrote in plain text is rewritten sealed before use. */
  private async upgradeDisk(): Promise<void> {
    if (await this.disk.upgrade()) this.log.info({}, 'raft: plain-text log and snapshots from an older release rewritten encrypted');
  }

  /**
   * DEK rotation (swarmkit's RaftDEKManager: after the unlock key changes, the old DEK may have been
   * seen): new writes use a new key at once, then every snapshot file and entry still on disk is sealed
   * again under it and the old key is dropped. Needs the `keys` the member was opened with.
   */
  async rotateDek(): Promise<void> {
    if (!this.keys) throw failedPrecondition('raft: no DEK to rotate');
    const t0 = Date.now();
    await this.keys.rotate();
    await this.disk.reseal();
    this.log.info({ ms: Date.now() - t0 }, 'raft: DEK rotated, log and snapshots sealed again');
  }

  /** swarm init --force-new-cluster: keep the committed state, drop everyone else, lead a new term. */
  async forceNewCluster(): Promise<void> {
    this.requireNew();
    await this.upgradeDisk();
    const st = this.disk.load();
    if (!st.raftId) throw failedPrecondition('raft: no state to recover');
    this.id = st.raftId;
    const forced = forceNewClusterState(st);
    await this.disk.persist({ entries: forced.appended, hardState: forced.state.hardState, truncateFrom: forced.truncateFrom });
    this.open(forced.state);
    // Apply the committed removals before campaigning: only then are we the sole voter.
    await this.applyLocalCommitted(forced.state.hardState.commit);
    this.rn.campaign();
    this.loop.kick();
  }

  /** Runs the Ready loop until everything committed on disk is applied (conf entries included). */
  private async applyLocalCommitted(commit: number): Promise<void> {
    for (let i = 0; i < 10_000 && this.state === 'running' && this.loop.applied < commit; i++) {
      this.loop.kick();
      await this.loop.idle;
    }
  }

  /**
   * Stops ticking, lets the current Ready and background writes finish, saves the commit index,
   * rejects waiters, closes the transport and the log.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasOpen = this.state !== 'new';
    this.state = 'stopped';
    this.stopTicking();
    if (wasOpen) await this.loop.drain();
    this.failAll(unavailable('raft: stopped'));
    if (wasOpen) await this.transport.close();
    await this.disk.close();
  }

  /** Test hook for a kill -9: stop timers and drop all I/O at once; nothing is flushed or closed. */
  crash(): void {
    this.state = 'stopped';
    this.stopTicking();
    void this.transport.close();
  }

  private requireNew(): void {
    if (this.state !== 'new') throw failedPrecondition('raft: already started');
    if (!this.id && this.disk.isEmpty()) throw invalidArgument('raft: raftId is required');
  }

  private stopTicking(): void {
    if (this.ticker !== null) this.timers.clearInterval(this.ticker);
    this.ticker = null;
  }

  private open(st: DiskState, peers?: number[]): void {
    const { mem, rn, membership, openedAt } = rebuildMember(
      st,
      this.store,
      { id: this.id, electionTick: this.electionTick, heartbeatTick: this.heartbeatTick, maxEntriesPerMsg: this.maxEntriesPerMsg, rng: this.rng },
      peers,
    );
    this.mem = mem;
    this.rn = rn;
    this.membership = membership;
    this.loop = new ReadyLoop(
      {
        selfId: this.id,
        rn: this.rn,
        mem: this.mem,
        disk: this.disk,
        store: this.store,
        transport: this.transport,
        membership: this.membership,
        proposals: this.proposals,
        reads: this.reads,
        log: this.log,
        snapshotPolicy: () => this.snapshotPolicy,
        openedAt,
        observer: this.observer,
      },
      {
        state: () => this.state,
        softStateChanged: (leader, role) => this.onSoftState(leader, role),
        removedSelf: () => this.markRemoved(),
        storageFailed: (err, logMessage) => this.stopOnStorageError(err, logMessage),
      },
    );
    this.transport.bind(this);
    const probe = this.transport.probe?.bind(this.transport);
    this.watch = probe
      ? new LeaderWatch(
          {
            electionView: () => (this.state === 'running' && this.rn.raft.role !== 'leader' ? { lead: this.rn.raft.lead, term: this.rn.raft.term } : undefined),
            probe,
            campaignSlot: (dead) => campaignSlot(this.loop.confState.voters, dead, this.id),
            forceCampaign: (reason) => {
              this.log.info({ reason }, 'raft: leader is down; campaigning now');
              this.rn.raft.hup(true);
              this.loop.kick();
            },
          },
          { rng: this.rng, timers: this.timers, tickMs: this.tickMs, silenceTicks: Math.max(3, 2 * this.heartbeatTick + 1) },
        )
      : null;
    this.loop.syncPeers();
    this.state = 'running';
    this.ticker = this.timers.setInterval(() => this.tick(), this.tickMs);
  }

  private tick(): void {
    if (this.state !== 'running') return;
    this.rn.tick();
    this.watch?.tick();
    this.loop.kick();
  }

  /** A write failed: durability can no longer be promised, so this member stops participating. */
  private stopOnStorageError(err: Error, logMessage: string): void {
    this.log.error({ err }, logMessage);
    this.state = 'stopped';
    this.stopTicking();
    this.failAll(unavailable(`raft: stopped after a storage error: ${err.message}`));
    this.onFatal?.(err);
  }

  private onSoftState(leader: number, role: Role): void {
    const wasLeader = this.role === 'leader';
    const changed = leader !== this.lead || role !== this.role;
    this.lead = leader;
    this.role = role;
    if (wasLeader && role !== 'leader') this.proposals.rejectAll(leader === 0 ? noLeader() : new LostLeadershipError());
    if (leader === 0) this.reads.failAll(noLeader());
    if (changed) {
      this.changes.leadershipChanged();
      this.events.leadershipChanged(role === 'leader', leader);
    }
  }

  /** New snapshot settings from the cluster spec; they apply from the next snapshot. Invalid values are ignored. */
  setSnapshotPolicy(p: Partial<SnapshotPolicy> & { keepOldSnapshots?: number }): void {
    const ok = (v: number | undefined, d: number) => (typeof v === 'number' && v > 0 ? v : d);
    this.snapshotPolicy = { snapshotInterval: ok(p.snapshotInterval, this.snapshotPolicy.snapshotInterval), keepEntries: ok(p.keepEntries, this.snapshotPolicy.keepEntries) };
    if (typeof p.keepOldSnapshots === 'number' && p.keepOldSnapshots >= 0) this.disk.snapshots.keepOld = p.keepOldSnapshots;
  }

  // ---- proposals -----------------------------------------------------------------------------

  /** The store's Proposer: resolves once the changes are committed and applied here (appended at once: async only turns a refusal into a rejection). */
  async propose(changes: Change[]): Promise<void> {
    return this.append(changes).applied;
  }

  /** The store's pipelined Proposer: the changes are in the log when this returns (or it throws). */
  append(changes: Change[]): { index: number; applied: Promise<void> } {
    const data = encodeChanges(changes);
    if (data.length > MAX_TRANSACTION_BYTES) throw requestTooLarge();
    const started = performance.now();
    const { index, applied } = this.appendData(data, (d) => this.rn.propose(d), changes);
    const observer = this.observer;
    if (!observer) return { index, applied };
    return { index, applied: applied.then(() => observer.proposalApplied((performance.now() - started) / 1000)) };
  }

  private async proposeData(data: Uint8Array, append: (d: Uint8Array) => number): Promise<void> {
    return this.appendData(data, append).applied;
  }

  private appendData(data: Uint8Array, append: (d: Uint8Array) => number, changes?: Change[]): { index: number; applied: Promise<void> } {
    const refusal = this.refuseProposal();
    if (refusal) throw refusal;
    let index: number;
    try {
      index = append(data);
    } catch (e) {
      throw isKind(e, 'Unavailable') ? this.refuseProposal() ?? e : e;
    }
    const applied = this.proposals.wait(index, this.rn.raft.term, changes);
    this.loop.kick();
    return { index, applied };
  }

  private refuseProposal(): Error | undefined {
    if (this.state === 'removed') return failedPrecondition(MEMBER_REMOVED_MESSAGE);
    if (this.state !== 'running') return unavailable('raft: not running');
    const st = this.rn.raft;
    if (st.role === 'leader') return st.leadTransferee ? leadershipTransferInProgress() : undefined;
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
    this.loop.kick();
  }

  reportUnreachable(raftId: number): void {
    if (this.state !== 'running') return;
    this.rn.reportUnreachable(raftId);
    this.watch?.connectionLost(raftId);
  }

  reportSnapshot(raftId: number, ok: boolean): void {
    if (this.state !== 'running') return;
    this.rn.reportSnapshot(raftId, ok);
    this.loop.kick();
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
    this.stopTicking();
    this.failAll(failedPrecondition(MEMBER_REMOVED_MESSAGE));
    this.events.removed();
  }

  resolveAddress(raftId: number): string | undefined {
    return this.membership?.get(raftId)?.addr;
  }

  // ---- membership (membership-changes.ts) ----------------------------------------------------

  /** Leader: a manager asks to join. Allocates a fresh raft ID and commits addNode; followers forward to the leader. */
  handleJoin(req: { addr: string; nodeId: string }): Promise<JoinResponse> {
    return this.changes.handleJoin(req);
  }

  /** Leader only: add a voter (single-step). Resolves when the change is applied here. */
  addMember(m: RaftMember): Promise<void> {
    return this.changes.addMember(m);
  }

  /** Leader only: remove a voter; removing the leader itself hands leadership over, then fails with NotLeaderError. */
  removeMember(raftId: number): Promise<void> {
    return this.changes.removeMember(raftId);
  }

  /** Leader only: hand leadership to `to` (default: the most caught-up reachable voter). Resolves with the new leader. */
  transferLeadership(to?: number): Promise<number> {
    return this.changes.transferLeadership(to);
  }

  // ---- reads and status ----------------------------------------------------------------------

  /** Linearizable read barrier: resolves with an index once this member has applied it. */
  readIndex(timeoutMs = this.tickMs * this.electionTick * 2): Promise<number> {
    const refusal = this.refuseProposal();
    if (refusal && !(refusal instanceof NotLeaderError)) return Promise.reject(refusal);
    const { ctx, done } = this.reads.add(timeoutMs);
    this.rn.readIndex(ctx);
    this.loop.kick();
    return done;
  }

  /** Resolves once this member has applied `index` (e.g. the leader's, after a forwarded write). */
  waitApplied(index: number, timeoutMs: number): Promise<number> {
    if (this.state !== 'running') return Promise.reject(unavailable('raft: not running'));
    return this.reads.until(index, this.loop.applied, timeoutMs);
  }

  private failAll(err: Error): void {
    this.proposals.rejectAll(err);
    this.reads.failAll(err);
  }

  isLeader(): boolean {
    return this.state === 'running' && this.rn.raft.role === 'leader';
  }

  /**
   * Leader only: whether this member has applied its term's empty entry, and so every entry its log held
   * when it took office (an earlier leader's, or its own of an earlier term). Until then its store lacks
   * entries that come before anything it writes: consensus.md, "Leader-only components". Read from the
   * Raft core: isLeader() is true before the Ready loop reports the new role.
   */
  leaderCaughtUp(): boolean {
    return this.isLeader() && this.rn.raft.termStartIndex > 0 && this.loop.applied >= this.rn.raft.termStartIndex;
  }

  /**
   * Resolves true once leaderCaughtUp(); false when leadership (of this term) is lost first or `tries`
   * waits of `timeoutMs` pass (a leader without a quorum steps down within an election timeout).
   */
  async waitLeaderCaughtUp(timeoutMs: number, tries = 1): Promise<boolean> {
    const term = this.rn.raft.term;
    for (let i = 0; i < tries && this.isLeader() && this.rn.raft.term === term; i++) {
      if (this.leaderCaughtUp()) return true;
      await this.reads.until(this.rn.raft.termStartIndex, this.loop.applied, timeoutMs).catch(() => undefined);
    }
    return this.rn.raft.term === term && this.leaderCaughtUp();
  }

  /** The current leader (undefined when none is known). */
  leader(): RaftMember | undefined {
    if (this.state !== 'running' || this.rn.raft.lead === 0) return undefined;
    return this.leaderRef(this.rn.raft.lead);
  }

  /** Every voter with its address, node ID, leader flag and reachability (served from the leader for `docker node ls`). */
  members(): MemberStatus[] {
    if (!this.membership) return [];
    const running = this.state === 'running';
    return this.membership.statuses({
      voters: this.loop.confState.voters,
      lead: running ? this.rn.raft.lead : 0,
      selfUp: running,
      now: this.clock.now(),
      windowMs: this.tickMs * this.electionTick,
      progress: running ? this.rn.status().progress : undefined,
    });
  }

  /** Calls `cb(isLeader, leaderRaftId)` on every leader or role change; returns an unsubscribe. */
  onLeadershipChange(cb: LeadershipListener): () => void {
    return this.events.onLeadershipChange(cb);
  }

  /** Calls `cb` once this member learns it was removed from the cluster. */
  onRemoved(cb: () => void): () => void {
    return this.events.onRemoved(cb);
  }

  status(): { raftId: number; term: number; leader: number; role: Role; commit: number; applied: number; snapshotIndex: number; firstIndex: number; lastIndex: number; voters: number[] } {
    const s = this.rn.status();
    return { raftId: this.id, term: s.term, leader: s.leader, role: s.role, commit: s.commit, applied: this.loop.applied, snapshotIndex: this.loop.snapshotIndex, firstIndex: this.mem.firstIndex(), lastIndex: s.lastIndex, voters: s.voters };
  }
}
