// The Ready loop of an open Raft member (docs/design/consensus.md "Ready loop"): persist with fsync →
// send → apply → advance → compact, one Ready at a time. Work arriving while a Ready is persisted goes
// out in the next one (group commit). It also owns what applying decides: the applied index, the
// snapshot index and the conf state.
import { decodeConfChange, type ConfState, type Entry, type MemoryStorage, type Message, type RawNode, type Ready, type Role, type SnapshotMetadata } from '../../raft';
import type { Change, MemoryStore } from '../../store';
import { decodeChanges, decodeMember, decodeSnapshotPayload, snapshotPayloadText } from './codec';
import type { Membership } from './membership';
import type { ConsensusLogger } from './options';
import type { PendingProposals } from './pending-proposals';
import type { ReadWaiters } from './read-waiters';
import type { RaftDiskStorage } from './storage';
import type { RaftTransport } from './transport-types';
import { compactionPoint, snapshotDue, type SinceSnapshot } from './snapshot-policy';
import { commitTrace, markCommit } from './commit-trace';
import { QuietTimer } from './quiet-timer';

export type DriverState = 'new' | 'running' | 'stopped' | 'removed';

export interface SnapshotPolicy {
  /** Applied entries between snapshots (Docker's SnapshotInterval). */
  snapshotInterval: number;
  /** Entries kept behind a snapshot for slow followers (Docker's LogEntriesForSlowFollowers). */
  keepEntries: number;
}

/** How long the loop must stay idle before a commit index that no write carried is saved on its own. */
const COMMIT_SAVE_DELAY_MS = 10;

/** What a leader may send before its own persist completes (nothing here acknowledges or votes). */
const EARLY_TYPES = new Set<Message['type']>(['app', 'heartbeat']);

export interface ReadyLoopParts {
  selfId: number;
  rn: RawNode;
  mem: MemoryStorage;
  disk: RaftDiskStorage;
  store: MemoryStore;
  transport: RaftTransport;
  membership: Membership;
  proposals: PendingProposals;
  reads: ReadWaiters;
  log: ConsensusLogger;
  /** Read at each use: `docker swarm update --snapshot-interval` applies without a restart, as in Docker. */
  snapshotPolicy: () => SnapshotPolicy;
  /** Index of the snapshot the member was opened from (0: none); the store already holds its state. */
  openedAt: number;
  /** Told how long each snapshot took (metrics). */
  observer?: { snapshotWritten(seconds: number): void };
}

/** What the loop needs from the driver around it. */
export interface ReadyLoopHost {
  state(): DriverState;
  softStateChanged(leader: number, role: Role): void;
  /** A committed conf change removed this member. */
  removedSelf(): void;
  /** A write failed: durability can no longer be promised, so the member must stop participating. */
  storageFailed(err: Error, logMessage: string): void;
}

/**
 * Whether a Ready's write is synced on this thread (a synchronous fdatasync that blocks it) rather than
 * on libuv's threads (the bytes are written on this thread either way: wal.ts). Followers and
 * candidates sync on the thread: nothing waits for the thread meanwhile, and it saves the hop to and
 * from the thread pool (a sync job, and a callback back into the loop). A leader with peers syncs in the
 * background: its appends, already handed to grpc-js, leave the process only in a later turn of the
 * event loop, which a blocked thread would hold back. A lone voter (a one-manager swarm) has no one to
 * send to, so it writes on the thread like a follower: in the daemon the hops cost 0.12–0.2 ms of each
 * API write's 0.6–0.8 ms (B5 POST and DELETE), and the commit throughput of concurrent proposals did
 * not drop (performance.md, "B5 POST"). On a contended disk its API, dispatcher and scheduler wait out
 * each fsync, as a follower's do.
 */
export function writesOnThread(role: Role, voters: number): boolean {
  return role !== 'leader' || voters <= 1;
}

export class ReadyLoop {
  private readonly rn: RawNode;
  private readonly mem: MemoryStorage;
  private readonly disk: RaftDiskStorage;
  private active = false;
  private idleNow: Promise<void> = Promise.resolve();
  private resolveIdle: (() => void) | null = null;
  private appliedIndex: number;
  private snapshotAt: number;
  private conf: ConfState;
  private compacting: Promise<void> | null = null;
  /** Entries and bytes applied since the last snapshot was taken, and its size (snapshot-policy.ts). */
  private since: SinceSnapshot = { entries: 0, bytes: 0, lastSnapshotBytes: 0 };
  /** The commit index in memory is ahead of the one on disk. */
  private commitUnsaved = false;
  /** The latest background write of the commit index, while it is in flight. */
  private commitWrite: Promise<void> | null = null;
  /** Armed while the loop is idle with an unsaved commit index (see saveCommitWhenIdle); touched by each Ready that moves the log. */
  private readonly commitTimer = new QuietTimer(COMMIT_SAVE_DELAY_MS, () => {
    // A run under way ends by calling saveCommitWhenIdle again, so the index is never left unsaved while idle.
    if (!this.active && this.host.state() === 'running') this.saveCommitNow();
  });

  constructor(
    private readonly parts: ReadyLoopParts,
    private readonly host: ReadyLoopHost,
  ) {
    this.rn = parts.rn;
    this.mem = parts.mem;
    this.disk = parts.disk;
    this.appliedIndex = this.snapshotAt = parts.openedAt;
    this.conf = this.mem.initialState().confState;
    this.since.lastSnapshotBytes = this.mem.snapshot().data.byteLength;
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get snapshotIndex(): number {
    return this.snapshotAt;
  }

  get confState(): ConfState {
    return this.conf;
  }

  /** Resolves when the current run of the loop (if any) has ended. */
  get idle(): Promise<void> {
    return this.idleNow;
  }

  /** Schedules a run unless one is under way; a run handles Readies until there are none. */
  kick(): void {
    if (this.active || this.host.state() !== 'running') return;
    this.active = true;
    this.idleNow = new Promise((r) => (this.resolveIdle = r));
    queueMicrotask(() => void this.run());
  }

  /**
   * For stop(), after the driver stopped kicking: waits for the current run and any background writes,
   * then saves a commit index that no write carried yet, so a restart knows every batch it committed.
   */
  async drain(): Promise<void> {
    await this.idleNow;
    this.commitTimer.cancel();
    await this.compacting;
    await this.commitWrite;
    if (!this.commitUnsaved) return;
    try {
      await this.disk.persist({ entries: [], hardState: this.mem.hardStateNow() });
      this.commitUnsaved = false;
    } catch (err) {
      // Not needed for safety (the leader, or a lone voter's log, gives the commit index back); stopping goes on.
      this.parts.log.error({ err }, 'raft: saving the commit index on stop failed');
    }
  }

  private async run(): Promise<void> {
    try {
      while (this.host.state() === 'running' && this.rn.hasReady()) {
        // After a write that blocked the thread, one turn of the event loop first: the messages that
        // Ready sent leave, and those that arrived meanwhile join the next Ready.
        if (await this.handleReady(this.rn.ready())) await new Promise((r) => setImmediate(r));
      }
      if (this.host.state() === 'running') this.saveCommitWhenIdle();
    } catch (err) {
      this.host.storageFailed(err as Error, 'raft: ready loop failed; stopping');
    } finally {
      this.active = false;
      this.resolveIdle?.();
    }
    if (this.host.state() === 'running' && this.rn.hasReady()) this.kick();
  }

  /** Returns true when the Ready's write blocked the thread. */
  private async handleReady(rd: Ready): Promise<boolean> {
    const { transport, reads, membership } = this.parts;
    if (rd.entries.length > 0 || rd.committedEntries.length > 0) this.commitTimer.touch();
    if (commitTrace.on) {
      if (rd.entries.length > 0) markCommit('ready', rd.entries[rd.entries.length - 1]!.index);
      if (rd.committedEntries.length > 0) markCommit('commit-ready', rd.committedEntries[rd.committedEntries.length - 1]!.index);
    }
    // 1. durable: a vote, a term or an entry never leaves before it is on disk
    const hs = rd.hardState;
    const prev = this.mem.hardStateNow();
    const termOrVote = !!hs && (hs.term !== prev.term || hs.vote !== prev.vote);
    const mustWrite = rd.entries.length > 0 || !!rd.snapshot || termOrVote;
    // No message depends on the commit index being durable (Raft never needs it for safety), so a
    // Ready that only advances it writes nothing now: the next write carries it, or, if the loop goes
    // idle first, a background write (see saveCommitInBackground).
    const hardState = hs ?? (this.commitUnsaved ? prev : undefined);
    // Pipelining (Raft thesis §10.2.1): a leader whose term and vote are already durable sends its
    // appends and heartbeats before its own entries are; it counts itself in a quorum only once they are,
    // because commitment and apply happen in a later Ready, after this persist (one Ready at a time).
    let late = rd.messages;
    if (mustWrite && !termOrVote && !rd.snapshot && this.rn.raft.role === 'leader' && rd.messages.length > 0) {
      const early: Message[] = [];
      late = [];
      for (const m of rd.messages) (m.term === prev.term && EARLY_TYPES.has(m.type) ? early : late).push(m);
      if (early.length > 0) transport.send(early);
    }
    const blocking = mustWrite && writesOnThread(this.rn.raft.role, this.rn.raft.prs.size);
    // An installed snapshot replaces the log and the snapshot pointer: let our own compaction finish first.
    if (rd.snapshot && this.compacting) await this.compacting;
    if (mustWrite) {
      await this.disk.persist({ entries: rd.entries, hardState, snapshot: rd.snapshot }, blocking ? 'blocking' : 'background');
      this.commitUnsaved = false;
      if (commitTrace.on && rd.entries.length > 0) markCommit('persisted', rd.entries[rd.entries.length - 1]!.index);
    } else if (hs) {
      this.commitUnsaved = true;
    }
    if (rd.snapshot) this.mem.applySnapshot(rd.snapshot);
    this.mem.append(rd.entries);
    if (hs) this.mem.setHardState(hs);
    // 2. send
    if (late.length > 0) transport.send(late);
    // 3. apply
    if (rd.snapshot) this.applySnapshot(rd.snapshot.data, rd.snapshot.metadata.index, rd.snapshot.metadata.confState);
    let membershipChanged = !!rd.snapshot;
    for (const e of rd.committedEntries) membershipChanged = this.applyEntry(e) || membershipChanged;
    reads.ready(rd.readStates, this.appliedIndex);
    // 4. advance
    this.rn.advance(rd);
    if (membershipChanged) await this.disk.saveMembership(membership.list(), membership.removed());
    if (rd.softState) this.host.softStateChanged(rd.softState.leader, rd.softState.role);
    if (this.host.state() === 'running' && !this.compacting && snapshotDue(this.since, this.parts.snapshotPolicy().snapshotInterval)) this.compact();
    return blocking;
  }

  /**
   * Called when the loop goes idle with a commit index no write carried: nothing would save it before
   * the next entries. It is saved only once the log has been still for COMMIT_SAVE_DELAY_MS (QuietTimer),
   * because a write started now is one the next write's entries would wait behind (the log has one
   * device to sync): under a steady stream of writes, even one at a time, each carries the previous commit
   * index and this write never happens.
   */
  private saveCommitWhenIdle(): void {
    if (this.commitUnsaved) this.commitTimer.arm();
  }

  /**
   * It blocks the thread like a follower's write (~0.1–0.2 ms, at an idle moment). A blocking append
   * writes any background one still in flight before itself (wal.ts), so it never lands before an
   * earlier hard state, nor after a later one.
   */
  private saveCommitNow(): void {
    if (!this.commitUnsaved) return;
    this.commitUnsaved = false;
    markCommit('commit-saved', this.mem.hardStateNow().commit);
    const write: Promise<void> = this.disk.persist({ entries: [], hardState: this.mem.hardStateNow() }, 'blocking').then(
      () => {
        if (this.commitWrite === write) this.commitWrite = null;
      },
      (err: unknown) => {
        if (this.commitWrite === write) this.commitWrite = null;
        if (this.host.state() === 'running') this.host.storageFailed(err as Error, 'raft: saving the commit index failed; stopping');
      },
    );
    this.commitWrite = write;
  }

  private applySnapshot(data: Uint8Array, index: number, confState: ConfState): void {
    const { store, membership, proposals } = this.parts;
    const payload = decodeSnapshotPayload(data);
    store.restore(payload.store);
    membership.reset(payload.members, [...new Set([...payload.removed, ...membership.removed()])]);
    this.conf = { voters: [...confState.voters] };
    this.appliedIndex = this.snapshotAt = index;
    this.since = { entries: 0, bytes: 0, lastSnapshotBytes: data.byteLength };
    this.syncPeers();
    proposals.lostThrough(index);
  }

  /** Returns true when the membership table changed. */
  private applyEntry(e: Entry): boolean {
    const { store, membership, transport, selfId } = this.parts;
    if (e.index <= this.appliedIndex) return false;
    this.since.entries++;
    this.since.bytes += e.data.byteLength;
    let changed = false;
    if (e.type === 'conf') {
      const cc = decodeConfChange(e.data);
      this.conf = this.rn.applyConfChange(cc);
      if (cc.type === 'addNode') {
        const m = membership.add(cc.nodeId, decodeMember(cc.context));
        if (m.raftId !== selfId && m.addr) transport.setPeer(m.raftId, m.addr);
      } else {
        membership.remove(cc.nodeId);
        transport.removePeer(cc.nodeId);
        if (cc.nodeId === selfId) this.host.removedSelf();
      }
      changed = true;
      store.applyCommitted(e.index, []);
    } else {
      store.applyCommitted(e.index, this.ownChanges(e) ?? this.decoded(e));
    }
    this.appliedIndex = e.index;
    markCommit('applied', e.index);
    this.parts.proposals.applied(e.index, e.term);
    return changed;
  }

  /**
   * A leader's own entry: the changes it encoded, not a decoding of its bytes (on the leader that was
   * a JSON parse of every change it had just written). The store takes applied objects as its own and
   * sets their Version, so each gets a shallow copy; the parts below it are shared with the pending
   * write, and neither is ever changed (store.ts). `undefined` members, which the encoding drops, are
   * kept: the store counts them as absent (stableEqual) and so does every encoding of the object.
   */
  private ownChanges(e: Entry): Change[] | undefined {
    return this.parts.proposals.ownChanges(e.index, e.term)?.map((c) => (c.action === 'delete' ? c : { ...c, object: { ...c.object } }));
  }

  private decoded(e: Entry): Change[] {
    try {
      return decodeChanges(e.data);
    } catch (err) {
      this.parts.log.error({ err, index: e.index }, 'raft: undecodable entry skipped');
      return [];
    }
  }

  /** Points the transport at every member's address and away from removed members. */
  syncPeers(): void {
    const { membership, transport, selfId } = this.parts;
    for (const m of membership.list()) if (m.raftId !== selfId && m.addr) transport.setPeer(m.raftId, m.addr);
    for (const id of membership.removed()) transport.removePeer(id);
  }

  /**
   * Snapshot + compaction. The store is captured now (at the applied index) and encoded in slices with
   * the loop free between them (codec.ts: committed objects are never changed, so the capture keeps
   * describing that index while commits go on), each slice sealed and written to the snapshot file as it
   * comes, so the payload is never whole in memory. Once the file is durable the in-memory log takes the
   * snapshot (its payload read back from the file when a follower needs it), then a record in the log
   * points at it and the log is compacted. Until then the log on disk still holds every entry the snapshot covers.
   */
  private compact(): void {
    const { store, membership, log } = this.parts;
    const index = this.appliedIndex;
    const started = performance.now();
    const storeSnap = store.snapshot();
    if (storeSnap.index !== index) log.warn({ storeIndex: storeSnap.index, index }, 'raft: store index differs from applied index');
    const metadata: SnapshotMetadata = { index, term: this.mem.term(index), confState: { voters: [...this.conf.voters] } };
    const members = membership.list().map((m) => ({ ...m }));
    const removed = membership.removed();
    this.since = { entries: 0, bytes: 0, lastSnapshotBytes: this.since.lastSnapshotBytes };
    let compactTo = 0;
    this.compacting = this.disk
      .snapshots.write(metadata, snapshotPayloadText({ store: { ...storeSnap, index }, members, removed }))
      .then((payloadBytes) => {
        // stopped meanwhile, or a newer snapshot was installed from the leader: this one is not needed
        if (this.host.state() !== 'running' || index <= this.mem.snapshot().metadata.index) return false;
        this.mem.createSnapshot(index, metadata.confState);
        this.since.lastSnapshotBytes = payloadBytes;
        const first = this.mem.firstIndex();
        compactTo = compactionPoint(index, this.parts.snapshotPolicy().keepEntries, (i) => (i >= first && i <= this.mem.lastIndex() ? this.mem.entrySize(i) : undefined));
        return this.disk.pointAt(metadata, Math.max(0, compactTo)).then(() => true);
      })
      .then(
        (written) => {
          if (!written || this.host.state() === 'stopped') return;
          if (compactTo >= this.mem.firstIndex()) this.mem.compact(compactTo);
          if (index > this.snapshotAt) this.snapshotAt = index;
          this.parts.observer?.snapshotWritten((performance.now() - started) / 1000);
          log.info({ index, compactTo }, 'raft: snapshot written, log compacted');
        },
        (err: unknown) => {
          if (this.host.state() === 'running') this.host.storageFailed(err as Error, 'raft: snapshot failed; stopping');
        },
      )
      .finally(() => {
        this.compacting = null;
      });
  }
}
