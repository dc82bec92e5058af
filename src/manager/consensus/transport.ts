// Raft over the node-to-node RPC layer: the shoal.Raft service (manager certificates only) and a
// transport with one long-lived stream per peer. The Ready loop only enqueues into a bounded queue per
// peer (coalesced, coalesce.ts); the queue leaves as one binary-encoded batch (wire.ts, which frames the
// stream's messages too) at once when it holds a message somebody waits for, else at the end of the
// event-loop turn (see isUrgent), while fewer than `maxInflightBatches` are unacknowledged, otherwise
// with the next acknowledgement. A slow or dead peer fills its own queue (then messages to it are
// dropped and Raft is told it is unreachable) and never delays the others.
import { MANAGERS, PEER_RECONNECT, bidi, createRpcClient, defineService, keepConnected, rpcDropped, unary, type BidiStream, type CallContext, type Handlers, type RpcClient, type TlsMaterial } from '../../rpc';
import type { Message } from '../../raft';
import { isKind, unavailable } from '../../lib/errors';
import { MEMBER_REMOVED_MESSAGE } from './errors';
import type { JoinResponse, RaftServiceTarget, RaftTransport, RaftTransportSink } from './transport-types';
import { decodeBatch, encodeStreamBatch, raftStreamCodec, type RaftStreamAck, type RaftStreamBatch } from './wire';
import { coalesceMessages } from './coalesce';
import { commitTrace, markCommitMessages } from './commit-trace';

export const RaftService = defineService('shoal.Raft', {
  /** A batch of Raft messages for the callee; answered as soon as they are stepped (not applied). */
  ProcessRaftMessage: unary<{ messages: Message[] }, { ok: boolean }>(MANAGERS),
  /** The same as a long-lived stream per peer (authorized once): batches in, one ack per batch out, in order; framed by wire.ts. */
  StreamRaftBatches: bidi<RaftStreamBatch, RaftStreamAck>(MANAGERS, raftStreamCodec),
  /**
   * StreamRaftBatches in the RPC layer's JSON, as releases before it spoke it: still served for them, and
   * used towards a peer that does not know StreamRaftBatches, so managers can be upgraded one at a time.
   */
  StreamRaftMessages: bidi<RaftStreamBatch, RaftStreamAck>(MANAGERS),
  /** The address of a member, by raft ID. */
  ResolveAddress: unary<{ raftId: number }, { addr: string }>(MANAGERS),
  /** A manager (the caller's certificate, or `nodeId` when a follower forwards) joins the Raft group. */
  Join: unary<{ addr: string; nodeId?: string }, JoinResponse>(MANAGERS),
});

/**
 * Handlers for `rpcServer.addService(RaftService, raftServiceHandlers(target))`. `target` may be a
 * getter, so the service can be registered before the consensus exists (calls then fail Unavailable).
 */
export function raftServiceHandlers(target: RaftServiceTarget | (() => RaftServiceTarget | undefined)): Handlers<typeof RaftService.methods> {
  const get = (): RaftServiceTarget => {
    const t = typeof target === 'function' ? target() : target;
    if (!t) throw unavailable('raft: this manager is not running consensus');
    return t;
  };
  const stream = async function* (reqs: AsyncIterable<RaftStreamBatch>, ctx: CallContext) {
    for await (const req of reqs) {
      try {
        const messages = decodeBatch(req.b);
        if (commitTrace.on) markCommitMessages('recv', messages);
        get().receive(messages, ctx.peer?.nodeId);
        yield { n: req.n };
      } catch (e) {
        yield { n: req.n, err: (e as Error)?.message ?? String(e) };
      }
    }
  };
  return {
    ProcessRaftMessage: (req: { messages: Message[] }, ctx: CallContext) => {
      get().receive(req.messages ?? [], ctx.peer?.nodeId);
      return { ok: true };
    },
    StreamRaftBatches: stream,
    StreamRaftMessages: stream,
    ResolveAddress: (req: { raftId: number }) => {
      const addr = get().resolveAddress(req.raftId);
      if (!addr) throw unavailable(`raft: member ${req.raftId} is unknown`);
      return { addr };
    },
    Join: (req: { addr: string; nodeId?: string }, ctx: CallContext) => get().handleJoin({ addr: req.addr, nodeId: req.nodeId || ctx.peer!.nodeId }),
  };
}

export interface GrpcRaftTransportOptions {
  /** This manager's certificate, key and trusted roots. */
  tls: TlsMaterial;
  /** Messages waiting per peer before new ones are dropped. */
  maxQueue?: number;
  /** Messages per coalesced batch. */
  maxBatch?: number;
  /** Unacknowledged batches per peer before sends are coalesced (default 8). */
  maxInflightBatches?: number;
  /** How long a batch may stay unacknowledged (a snapshot batch gets 10×); then the stream is reset. */
  sendTimeoutMs?: number;
  /** After a failed batch, drop messages to that peer for this long (Raft retries anyway). */
  retryBackoffMs?: number;
  logger?: { warn(obj: object, msg?: string): void };
}

interface Inflight {
  n: number;
  deadline: number;
  /** Snapshot messages in the batch (reported delivered on its ack). */
  snaps: number[];
}

interface Peer {
  raftId: number;
  addr: string;
  client: RpcClient | null;
  stream: BidiStream<RaftStreamBatch, RaftStreamAck> | null;
  inflight: Inflight[];
  queue: Message[];
  seq: number;
  timer: ReturnType<typeof setTimeout> | null;
  downUntil: number;
  failing: boolean;
  flushScheduled: boolean;
  /** The queue holds a message someone waits for (see isUrgent). */
  urgent: boolean;
  /** The peer answered that it does not know StreamRaftBatches (a release before it): use StreamRaftMessages. */
  legacy: boolean;
}

export class GrpcRaftTransport implements RaftTransport {
  private sink: RaftTransportSink | null = null;
  private readonly peers = new Map<number, Peer>();
  private closed = false;
  private stopKeeping: (() => void) | null = null;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly maxInflight: number;
  private readonly sendTimeoutMs: number;
  private readonly retryBackoffMs: number;

  constructor(private readonly opts: GrpcRaftTransportOptions) {
    this.maxQueue = opts.maxQueue ?? 4096;
    this.maxBatch = opts.maxBatch ?? 512;
    this.maxInflight = opts.maxInflightBatches ?? 8;
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 5000;
    this.retryBackoffMs = opts.retryBackoffMs ?? 100;
  }

  bind(sink: RaftTransportSink): void {
    this.sink = sink;
    this.closed = false;
    // Each peer's channel is kept connected, not made when the first message goes: the first message to a
    // follower from another follower is a vote after the leader died, when a handshake costs the most.
    this.stopKeeping ??= keepConnected(() => [...this.peers.values()].filter((p) => Date.now() >= p.downUntil).map((p) => this.clientFor(p)));
  }

  setPeer(raftId: number, addr: string): void {
    const p = this.peers.get(raftId);
    if (p && p.addr === addr) return;
    if (p) this.teardown(p);
    const peer: Peer = { raftId, addr, client: null, stream: null, inflight: [], queue: p?.queue ?? [], seq: 0, timer: null, downUntil: 0, failing: false, flushScheduled: false, urgent: false, legacy: false };
    this.peers.set(raftId, peer);
    if (this.stopKeeping) this.clientFor(peer).connect();
  }

  removePeer(raftId: number): void {
    const p = this.peers.get(raftId);
    if (!p) return;
    this.peers.delete(raftId);
    p.queue = [];
    this.teardown(p);
  }

  send(messages: Message[]): void {
    if (this.closed) return;
    if (commitTrace.on) markCommitMessages('send', messages);
    const now = Date.now();
    const added = new Map<Peer, Message[]>();
    for (const m of messages) {
      const p = this.peers.get(m.to);
      const mine = p && added.get(p);
      if (!p || now < p.downUntil || p.queue.length + (mine?.length ?? 0) >= this.maxQueue) {
        this.dropped(m);
        continue;
      }
      if (mine) mine.push(m);
      else added.set(p, [m]);
    }
    for (const [p, ms] of added) {
      // The queue is coalesced already: only its last message can merge with what is added.
      const tail = p.queue.length > 0 ? [p.queue.pop()!] : [];
      for (const m of coalesceMessages([...tail, ...ms])) p.queue.push(m);
      if (ms.some(isUrgent)) p.urgent = true;
      if (p.urgent) this.flush(p);
      else this.scheduleFlush(p);
    }
  }

  /** A queue with nothing urgent in it leaves at the end of this turn of the event loop (see isUrgent). */
  private scheduleFlush(p: Peer): void {
    if (p.flushScheduled) return;
    p.flushScheduled = true;
    setImmediate(() => {
      p.flushScheduled = false;
      this.flush(p);
    });
  }

  private dropped(m: Message): void {
    if (m.type === 'snap') this.sink?.reportSnapshot(m.to, false);
    this.sink?.reportUnreachable(m.to);
  }

  private clientFor(p: Peer): RpcClient {
    if (!p.client) {
      p.client = createRpcClient(p.addr, {
        ...this.opts.tls,
        serverRole: 'swarm-manager',
        grpcOptions: {
          ...PEER_RECONNECT,
          'grpc.keepalive_time_ms': 10_000,
          'grpc.keepalive_timeout_ms': 5_000,
        },
      });
    }
    return p.client;
  }

  private streamFor(p: Peer): BidiStream<RaftStreamBatch, RaftStreamAck> {
    if (p.stream) return p.stream;
    const s = this.clientFor(p).bidi(RaftService, p.legacy ? 'StreamRaftMessages' : 'StreamRaftBatches');
    p.stream = s;
    void (async () => {
      let why = 'stream ended';
      try {
        for await (const ack of s.responses) {
          if (p.stream !== s) return;
          const head = p.inflight[0];
          if (!head || head.n !== ack.n) {
            why = `out-of-order ack ${ack.n}`;
            break;
          }
          if (ack.err) {
            why = ack.err;
            break;
          }
          p.inflight.shift();
          if (p.failing) p.failing = false;
          this.sink?.reportContact(p.raftId);
          for (const to of head.snaps) this.sink?.reportSnapshot(to, true);
          if (p.queue.length > 0) this.flush(p);
        }
      } catch (err) {
        why = (err as Error)?.message ?? String(err);
        // What was sent is lost, as with any failed stream (Raft resends). A peer of the previous release
        // answers Unimplemented: the next stream speaks the old method. Any other failure (the peer restarted,
        // perhaps upgraded) tries the new method again.
        p.legacy = isKind(err, 'Unimplemented');
      }
      if (p.stream === s) this.fail(p, why);
    })();
    return s;
  }

  /** Sends what is queued for `p` as one batch, unless too many batches await their ack. */
  private flush(p: Peer): void {
    while (!this.closed && p.queue.length > 0 && p.inflight.length < this.maxInflight && this.peers.get(p.raftId) === p) {
      p.urgent = false;
      const batch = p.queue.length <= this.maxBatch ? p.queue : p.queue.slice(0, this.maxBatch);
      p.queue = p.queue.length <= this.maxBatch ? [] : p.queue.slice(this.maxBatch);
      const snaps = batch.filter((m) => m.type === 'snap').map((m) => m.to);
      const n = p.seq + 1;
      let msg: RaftStreamBatch;
      try {
        msg = encodeStreamBatch(n, batch);
      } catch (err) {
        this.opts.logger?.warn({ peer: p.raftId, err: (err as Error).message }, 'raft: unencodable batch dropped');
        for (const m of batch) this.dropped(m);
        continue;
      }
      p.seq = n;
      p.inflight.push({ n, snaps, deadline: Date.now() + (snaps.length > 0 ? this.sendTimeoutMs * 10 : this.sendTimeoutMs) });
      this.armTimer(p);
      // The test fault injector's partition: the batch never leaves and fails at its deadline.
      if (rpcDropped(p.addr)) continue;
      const s = this.streamFor(p);
      if (commitTrace.on) markCommitMessages('flush', batch);
      // the previous release's JSON stream carries n and b only
      s.send(p.legacy ? { n: msg.n, b: msg.b } : msg).catch((err: unknown) => {
        if (p.stream === s) this.fail(p, (err as Error)?.message ?? String(err));
      });
    }
  }

  /** One timer per peer, armed while batches are unacknowledged: a stuck stream fails at the oldest deadline. */
  private armTimer(p: Peer): void {
    if (p.timer || p.inflight.length === 0) return;
    const wait = Math.max(1, p.inflight[0]!.deadline - Date.now());
    p.timer = setTimeout(() => {
      p.timer = null;
      if (this.closed || p.inflight.length === 0) return;
      if (Date.now() >= p.inflight[0]!.deadline) this.fail(p, 'Deadline Exceeded');
      else this.armTimer(p);
    }, wait);
    p.timer.unref?.();
  }

  /** A batch failed: reset the stream, drop what is unacknowledged and queued, back off. */
  private fail(p: Peer, why: string): void {
    const s = p.stream;
    p.stream = null;
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    if (s) s.cancel();
    const lost = p.inflight.splice(0);
    const queued = p.queue.splice(0);
    if (this.closed || this.peers.get(p.raftId) !== p) return;
    if (why.includes(MEMBER_REMOVED_MESSAGE)) this.sink?.reportRemoved(p.raftId);
    if (!p.failing) this.opts.logger?.warn({ peer: p.raftId, addr: p.addr, err: why }, 'raft: peer unreachable');
    p.failing = true;
    p.downUntil = Date.now() + this.retryBackoffMs;
    const snapTo = new Set([...lost.flatMap((b) => b.snaps), ...queued.filter((m) => m.type === 'snap').map((m) => m.to)]);
    for (const to of snapTo) this.sink?.reportSnapshot(to, false);
    this.sink?.reportUnreachable(p.raftId);
  }

  private teardown(p: Peer): void {
    const s = p.stream;
    p.stream = null;
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    p.inflight = [];
    s?.cancel();
    p.client?.close();
    p.client = null;
  }

  async probe(raftId: number): Promise<'alive' | 'dead' | 'unknown'> {
    const p = this.peers.get(raftId);
    if (!p || this.closed) return 'unknown';
    try {
      await this.clientFor(p).unary(RaftService, 'ResolveAddress', { raftId }, { timeoutMs: 1000 });
      return 'alive';
    } catch (err) {
      const msg = (err as Error).message ?? '';
      if (/ECONNREFUSED|not running consensus|raft: not running/.test(msg)) return 'dead';
      if (/Deadline|DEADLINE|ETIMEDOUT|EHOSTUNREACH/.test(msg)) return 'unknown';
      return 'alive';
    }
  }

  async forwardJoin(addr: string, req: { addr: string; nodeId: string }): Promise<JoinResponse> {
    const c = createRpcClient(addr, { ...this.opts.tls, serverRole: 'swarm-manager' });
    try {
      return await c.unary(RaftService, 'Join', req, { timeoutMs: 30_000 });
    } finally {
      c.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopKeeping?.();
    this.stopKeeping = null;
    for (const p of this.peers.values()) {
      p.queue = [];
      this.teardown(p);
    }
    this.peers.clear();
  }
}

/**
 * Messages a commit, a read or an election waits for leave at once; a commit-index-only append or a
 * heartbeat (nothing waits on it) waits for the end of the turn, so that entries proposed in the same
 * turn travel with it as one batch and one stream write. That matters because grpc-js writes a
 * stream's messages one after another, each waiting for the previous write to complete: a second
 * write costs a loop iteration or more (measured: the next proposal's entries left ~0.3 ms later).
 */
function isUrgent(m: Message): boolean {
  if (m.type === 'heartbeat') return (m.context?.length ?? 0) > 0; // a ReadIndex round waits on it
  if (m.type === 'app') return (m.entries?.length ?? 0) > 0;
  return true;
}

/**
 * A joining manager's first step: ask any manager (followers forward to the leader) to add it.
 * Then start `new RaftConsensus({ raftId: res.raftId, ... }).join({ members: res.members, removed: res.removed })`.
 */
export async function requestJoin(managerAddr: string, tls: TlsMaterial, myAddr: string, timeoutMs = 30_000): Promise<JoinResponse> {
  const c = createRpcClient(managerAddr, { ...tls, serverRole: 'swarm-manager' });
  const deadline = Date.now() + timeoutMs;
  try {
    // Unavailable (no leader known yet, election under way) is retried until the deadline.
    for (;;) {
      try {
        return await c.unary(RaftService, 'Join', { addr: myAddr }, { timeoutMs: Math.max(1000, deadline - Date.now()) });
      } catch (e) {
        if (!isKind(e, 'Unavailable') || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    c.close();
  }
}
