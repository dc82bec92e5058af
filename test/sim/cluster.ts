// A simulated cluster of Raft nodes with a model driver: it persists each Ready to a durable
// MemoryStorage before sending, applies committed entries to a hash state machine, compacts, and
// can crash at any point of that sequence (losing whatever was not yet persisted).

import { SeededRng } from '../../src/lib/ports';
import {
  MemoryStorage,
  RawNode,
  decodeConfChange,
  type ConfState,
  type Entry,
  type LogBacking,
  type Message,
  type Ready,
} from '../../src/raft';
import { Checker, InvariantError } from './checker';
import { Net, type Envelope } from './net';

export interface ClusterOptions {
  electionTick: number;
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  maxInflightMsgs: number;
  maxEntriesPerMsg: number;
  /** Snapshot after this many applied entries past the last snapshot (0: never). */
  compactEvery: number;
  /** Entries kept behind the snapshot when compacting. */
  keepTail: number;
  /** Scripted mode: no loss, messages delivered in rounds by the scenario (deliverRound). */
  scripted: boolean;
  drop: number;
  dup: number;
  minDelay: number;
  maxDelay: number;
  longDelayP: number;
  longDelayMax: number;
  /** Virtual time units per tick. */
  tickUnits: number;
  /**
   * When set, each node's log in memory keeps only this many bytes of committed entries and reads the rest
   * (and a durable snapshot's payload) back from a durable copy written first, as a manager runs it
   * (MemoryStorage's retention over RaftDiskStorage); one entry is read back per call.
   */
  retainBytes?: number;
}

export const defaultClusterOptions = (): ClusterOptions => ({
  electionTick: 10,
  heartbeatTick: 1,
  preVote: true,
  checkQuorum: true,
  maxInflightMsgs: 8,
  maxEntriesPerMsg: 4,
  compactEvery: 0,
  keepTail: 2,
  scripted: false,
  drop: 0,
  dup: 0,
  minDelay: 1,
  maxDelay: 20,
  longDelayP: 0,
  longDelayMax: 0,
  tickUnits: 10,
});

export type CrashPoint = 'beforePersist' | 'afterPersist' | 'afterSend';

const INITIAL_HASH = 2166136261;

export class SimNode {
  rn: RawNode | null = null;
  inc = 0;
  applied = 0;
  hash = INITIAL_HASH;
  confState: ConfState = { voters: [] };
  crashPoint: CrashPoint | undefined;
  retired = false;
  /** Applied its own removal. */
  removedSelf = false;
  reads = new Map<string, number>();
  completedReads: { index: number; ctx: string }[] = [];
  lastLeaderTerm = -1;
  constructor(
    readonly id: number,
    readonly storage: MemoryStorage,
    /** The durable copy `storage` reads back from (ClusterOptions.retainBytes); written before it. */
    readonly disk?: MemoryStorage,
  ) {}
  get alive(): boolean {
    return this.rn !== null;
  }
}

/** A durable copy as a MemoryStorage's backing: what it no longer has (compacted) it does not return. */
function backingOf(disk: MemoryStorage): LogBacking {
  return {
    entries(lo, hi, maxBytes) {
      if (lo < disk.firstIndex()) return [];
      const out: Entry[] = [];
      let bytes = 0;
      for (const e of disk.entries(lo, Math.min(hi, disk.lastIndex() + 1))) {
        if (out.length > 0 && bytes >= maxBytes) break;
        out.push(e);
        bytes += e.data.byteLength;
      }
      return out;
    },
    snapshotData(metadata) {
      const s = disk.snapshot();
      if (s.metadata.index !== metadata.index || s.metadata.term !== metadata.term) throw new InvariantError(`snapshot ${metadata.index} is not on disk (${s.metadata.index} is)`);
      return s.data;
    },
  };
}

const encodeSnapData = (hash: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, hash);
  return b;
};
const decodeSnapData = (b: Uint8Array): number => (b.length === 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0) : INITIAL_HASH);

export class Cluster {
  now = 0;
  readonly nodes = new Map<number, SimNode>();
  readonly net = new Net();
  readonly checker: Checker;
  readonly trace: string[] = [];
  readonly rng: SeededRng;
  delivered = 0;

  constructor(
    readonly opts: ClusterOptions,
    readonly seed: number,
    initialVoters: number[],
  ) {
    this.rng = new SeededRng(seed);
    this.checker = new Checker(initialVoters);
  }

  log(s: string): void {
    this.trace.push(`t=${this.now} ${s}`);
  }

  /** Create a node. With `peers` it bootstraps a new cluster; with `storage` it starts from that log. */
  createNode(id: number, init: { peers?: number[]; storage?: MemoryStorage } = {}): SimNode {
    const retain = this.opts.retainBytes;
    const disk = retain !== undefined && !init.storage ? new MemoryStorage() : undefined;
    const storage = init.storage ?? (disk ? new MemoryStorage(undefined, { backing: backingOf(disk), keepBytes: retain!, readBackBytes: 1 }) : new MemoryStorage());
    const node = new SimNode(id, storage, disk);
    this.nodes.set(id, node);
    this.start(node, init.peers);
    return node;
  }

  private start(node: SimNode, peers?: number[]): void {
    const snap = node.storage.snapshot();
    node.applied = snap.metadata.index;
    node.hash = decodeSnapData(snap.data);
    node.confState = { voters: [...snap.metadata.confState.voters] };
    node.lastLeaderTerm = -1;
    node.rn = new RawNode({
      id: node.id,
      electionTick: this.opts.electionTick,
      heartbeatTick: this.opts.heartbeatTick,
      storage: node.disk ? node.storage.raftView() : node.storage,
      rng: new SeededRng((this.seed * 7919 + node.id * 104729 + node.inc * 31) >>> 0),
      preVote: this.opts.preVote,
      checkQuorum: this.opts.checkQuorum,
      maxInflightMsgs: this.opts.maxInflightMsgs,
      maxEntriesPerMsg: this.opts.maxEntriesPerMsg,
      peers,
    });
    this.after(node);
  }

  crash(id: number, point?: CrashPoint): void {
    const node = this.mustNode(id);
    if (!node.rn) return;
    if (point) {
      node.crashPoint = point;
      this.log(`crash-armed ${id} ${point}`);
      return;
    }
    this.doCrash(node);
  }

  private doCrash(node: SimNode): void {
    this.log(`crash ${node.id}${node.crashPoint ? ' at ' + node.crashPoint : ''}`);
    node.rn = null;
    node.inc++;
    node.crashPoint = undefined;
    node.reads.clear();
  }

  restart(id: number): void {
    const node = this.mustNode(id);
    if (node.rn || node.retired) return;
    this.log(`restart ${id}`);
    this.start(node);
  }

  retire(id: number): void {
    const node = this.mustNode(id);
    if (node.rn) this.doCrash(node);
    node.retired = true;
    this.log(`retire ${id}`);
  }

  mustNode(id: number): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Run `fn` against a live node's RawNode, then check and drain it. */
  call<T>(id: number, fn: (rn: RawNode) => T): T | undefined {
    const node = this.nodes.get(id);
    if (!node?.rn) return undefined;
    const out = fn(node.rn);
    this.after(node);
    return out;
  }

  private after(node: SimNode): void {
    if (!node.rn) return;
    this.checkLeader(node);
    this.processReady(node);
  }

  private checkLeader(node: SimNode): void {
    const r = node.rn?.raft;
    if (!r || r.role !== 'leader' || node.lastLeaderTerm === r.term) return;
    node.lastLeaderTerm = r.term;
    this.log(`leader ${node.id} term ${r.term}`);
    const log = r.log;
    const prev = this.checker.leaders.get(r.term);
    if (prev !== undefined && prev !== node.id) this.checker.fail(`two leaders in term ${r.term}: ${prev} and ${node.id}`);
    this.checker.leaders.set(r.term, node.id);
    if (log.lastIndex() < this.checker.maxCommitted) {
      this.checker.fail(`leader ${node.id} (term ${r.term}) lacks committed entries: lastIndex ${log.lastIndex()} < ${this.checker.maxCommitted}`);
    }
    for (let i = Math.max(log.firstIndex(), 1); i <= this.checker.maxCommitted; i++) {
      const c = this.checker.committed.get(i);
      const t = log.maybeTerm(i);
      if (c && t !== undefined && t !== c.term) this.checker.fail(`leader ${node.id} (term ${r.term}) has term ${t} at committed index ${i}, expected ${c.term}`);
    }
  }

  processReady(node: SimNode): void {
    let guard = 0;
    while (node.rn && node.rn.hasReady()) {
      if (++guard > 10000) throw new InvariantError(`node ${node.id}: Ready never drains`);
      const rn = node.rn;
      const rd = rn.ready();
      if (node.crashPoint === 'beforePersist') return this.doCrash(node);
      this.persist(node, rd);
      if (node.crashPoint === 'afterPersist') return this.doCrash(node);
      for (const m of rd.messages) this.send(node, m);
      if (node.crashPoint === 'afterSend') return this.doCrash(node);
      this.apply(node, rn, rd);
      rn.advance(rd);
      this.checkLeader(node);
      this.maybeCompact(node);
    }
  }

  private persist(node: SimNode, rd: Ready): void {
    // the durable copy first, as a manager's driver writes lmdb before its log in memory
    const disk = node.disk;
    if (disk) {
      if (rd.snapshot) disk.applySnapshot(rd.snapshot);
      disk.append(rd.entries);
      if (rd.hardState) disk.setHardState(rd.hardState);
    }
    const st = node.storage;
    if (rd.snapshot) st.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      st.append(rd.entries);
      this.checker.persisted(node.id, rd.entries, st);
    }
    if (rd.hardState) st.setHardState(rd.hardState);
  }

  private apply(node: SimNode, rn: RawNode, rd: Ready): void {
    if (rd.snapshot) {
      const md = rd.snapshot.metadata;
      node.hash = decodeSnapData(rd.snapshot.data);
      node.applied = md.index;
      node.confState = { voters: [...md.confState.voters] };
      this.checker.restoredSnapshot(node.id, md.index, node.hash);
      this.log(`snapshot-installed ${node.id} @${md.index}`);
    }
    for (const e of rd.committedEntries) {
      if (e.index !== node.applied + 1) this.checker.fail(`node ${node.id} applied ${e.index} after ${node.applied}`);
      node.hash = this.checker.applied(node.id, e, node.hash);
      node.applied = e.index;
      if (e.type === 'conf') {
        const cc = decodeConfChange(e.data);
        node.confState = rn.applyConfChange(cc);
        if (cc.type === 'removeNode' && cc.nodeId === node.id) node.removedSelf = true;
      }
    }
    for (const rs of rd.readStates) {
      const key = Buffer.from(rs.context).toString('hex');
      const issued = node.reads.get(key);
      if (issued === undefined) continue; // duplicate answer or from a previous incarnation
      node.reads.delete(key);
      this.checker.readState(node.id, rs.index, issued);
      node.completedReads.push({ index: rs.index, ctx: key });
    }
  }

  private maybeCompact(node: SimNode): void {
    const every = this.opts.compactEvery;
    if (every <= 0) return;
    const st = node.storage;
    if (node.applied - st.snapshot().metadata.index < every) return;
    this.compact(node.id, node.applied);
  }

  /** Snapshot the state machine at its applied index and drop the log before index-keepTail. */
  compact(id: number, upTo?: number): void {
    const node = this.mustNode(id);
    const st = node.storage;
    const at = Math.min(upTo ?? node.applied, node.applied);
    if (at <= st.snapshot().metadata.index) return;
    if (at !== node.applied) throw new Error('compact: the sim snapshots only at the applied index');
    const data = encodeSnapData(node.hash);
    const to = at - this.opts.keepTail;
    if (node.disk) {
      node.disk.createSnapshot(at, node.confState, data);
      if (to > node.disk.firstIndex() - 1) node.disk.compact(to);
    }
    st.createSnapshot(at, node.confState, data);
    if (to > st.firstIndex() - 1) st.compact(to);
  }

  private send(node: SimNode, m: Message): void {
    if (this.opts.scripted) {
      this.net.push(m, 0, node.inc);
      return;
    }
    const o = this.opts;
    const r = this.rng;
    const delay = (): number => {
      let d = o.minDelay + Math.floor(r.next() * (o.maxDelay - o.minDelay + 1));
      if (o.longDelayP > 0 && r.next() < o.longDelayP) d += Math.floor(r.next() * o.longDelayMax);
      return d;
    };
    if (o.drop > 0 && r.next() < o.drop) {
      // Lost. A snapshot stream failing is noticed by the sender's transport.
      if (m.type === 'snap') this.net.push({ ...m, snapshot: undefined, reject: true }, this.now + delay(), node.inc);
      return;
    }
    this.net.push(m, this.now + delay(), node.inc);
    if (o.dup > 0 && r.next() < o.dup) this.net.push(m, this.now + delay(), node.inc);
  }

  private deliver(env: Envelope): void {
    const m = env.m;
    const to = this.nodes.get(m.to);
    const from = this.nodes.get(m.from);
    const lost = m.type === 'snap' && !m.snapshot;
    const ok = !lost && !!to?.rn && this.net.connected(m.from, m.to);
    if (m.type === 'snap' && from?.rn && from.inc === env.fromInc) {
      from.rn.reportSnapshot(m.to, ok);
      this.after(from);
    }
    if (!ok) {
      if (!lost && m.type === 'app' && from?.rn && from.inc === env.fromInc) {
        from.rn.reportUnreachable(m.to);
        this.after(from);
      }
      return;
    }
    if (!to?.rn) return;
    this.delivered++;
    to.rn.step(m);
    this.after(to);
  }

  /** Deliver every message due by `now`. */
  deliverDue(): void {
    for (;;) {
      const e = this.net.peek();
      if (!e || e.at > this.now) return;
      this.net.pop();
      this.deliver(e);
    }
  }

  /** Scripted mode: deliver the messages in flight now (new ones wait for the next round). */
  deliverRound(filter?: (m: Message) => boolean): number {
    const n = this.net.size();
    for (let i = 0; i < n; i++) {
      const e = this.net.pop();
      if (!e) break;
      if (filter && !filter(e.m)) continue;
      this.deliver(e);
    }
    return n;
  }

  tick(id: number): void {
    this.call(id, (rn) => rn.tick());
  }

  liveIds(): number[] {
    return [...this.nodes.values()].filter((n) => n.rn).map((n) => n.id);
  }

  /** Current leader seen by a majority of the committed configuration, if any. */
  stableLeader(): number | undefined {
    const voters = this.checker.voters;
    const counts = new Map<string, number>();
    for (const v of voters) {
      const r = this.nodes.get(v)?.rn?.raft;
      if (!r || r.lead === 0) continue;
      const k = `${r.lead}/${r.term}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    for (const [k, c] of counts) {
      if (c >= Math.floor(voters.length / 2) + 1) {
        const [lead, term] = k.split('/').map(Number);
        const lr = this.nodes.get(lead)?.rn?.raft;
        if (lr && lr.role === 'leader' && lr.term === term) return lead;
      }
    }
    return undefined;
  }

  leaders(): number[] {
    return [...this.nodes.values()].filter((n) => n.rn?.raft.role === 'leader').map((n) => n.id);
  }
}
