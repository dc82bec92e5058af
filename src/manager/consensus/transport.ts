// Raft over the node-to-node RPC layer: the shoal.Raft service (manager certificates only) and a
// transport with one bounded queue and one sender per peer. The Ready loop only enqueues; a slow or
// dead peer fills its own queue (then messages to it are dropped and Raft is told it is unreachable)
// and never delays the others. Whatever queues up while a batch is in flight leaves as the next batch.
import { MANAGERS, createRpcClient, defineService, unary, type CallContext, type Handlers, type RpcClient, type TlsMaterial } from '../../rpc';
import type { Message } from '../../raft';
import { isKind, unavailable } from '../../lib/errors';
import { MEMBER_REMOVED_MESSAGE } from './errors';
import type { JoinResponse, RaftServiceTarget, RaftTransport, RaftTransportSink } from './transport-types';

export const RaftService = defineService('shoal.Raft', {
  /** A batch of Raft messages for the callee; answered as soon as they are stepped (not applied). */
  ProcessRaftMessage: unary<{ messages: Message[] }, { ok: boolean }>(MANAGERS),
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
  return {
    ProcessRaftMessage: (req: { messages: Message[] }, ctx: CallContext) => {
      get().receive(req.messages ?? [], ctx.peer?.nodeId);
      return { ok: true };
    },
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
  /** Messages per RPC. */
  maxBatch?: number;
  /** Deadline of one batch (a snapshot batch gets 10×). */
  sendTimeoutMs?: number;
  /** After a failed batch, drop messages to that peer for this long (Raft retries anyway). */
  retryBackoffMs?: number;
  logger?: { warn(obj: object, msg?: string): void };
}

interface Peer {
  raftId: number;
  addr: string;
  client: RpcClient | null;
  queue: Message[];
  sending: boolean;
  downUntil: number;
  failing: boolean;
}

export class GrpcRaftTransport implements RaftTransport {
  private sink: RaftTransportSink | null = null;
  private readonly peers = new Map<number, Peer>();
  private closed = false;
  private readonly maxQueue: number;
  private readonly maxBatch: number;
  private readonly sendTimeoutMs: number;
  private readonly retryBackoffMs: number;

  constructor(private readonly opts: GrpcRaftTransportOptions) {
    this.maxQueue = opts.maxQueue ?? 4096;
    this.maxBatch = opts.maxBatch ?? 512;
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 5000;
    this.retryBackoffMs = opts.retryBackoffMs ?? 100;
  }

  bind(sink: RaftTransportSink): void {
    this.sink = sink;
    this.closed = false;
  }

  setPeer(raftId: number, addr: string): void {
    const p = this.peers.get(raftId);
    if (p && p.addr === addr) return;
    if (p) p.client?.close();
    this.peers.set(raftId, { raftId, addr, client: null, queue: p?.queue ?? [], sending: false, downUntil: 0, failing: false });
  }

  removePeer(raftId: number): void {
    const p = this.peers.get(raftId);
    if (!p) return;
    this.peers.delete(raftId);
    p.queue = [];
    p.client?.close();
  }

  send(messages: Message[]): void {
    if (this.closed) return;
    const now = Date.now();
    for (const m of messages) {
      const p = this.peers.get(m.to);
      if (!p || now < p.downUntil || p.queue.length >= this.maxQueue) {
        this.dropped(m);
        continue;
      }
      p.queue.push(m);
      if (!p.sending) void this.pump(p);
    }
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
          'grpc.initial_reconnect_backoff_ms': 100,
          'grpc.min_reconnect_backoff_ms': 100,
          'grpc.max_reconnect_backoff_ms': 1000,
          'grpc.keepalive_time_ms': 10_000,
          'grpc.keepalive_timeout_ms': 5_000,
        },
      });
    }
    return p.client;
  }

  private async pump(p: Peer): Promise<void> {
    p.sending = true;
    try {
      while (!this.closed && p.queue.length > 0 && this.peers.get(p.raftId) === p) {
        const batch = p.queue.splice(0, this.maxBatch);
        const hasSnap = batch.some((m) => m.type === 'snap');
        try {
          await this.clientFor(p).unary(RaftService, 'ProcessRaftMessage', { messages: batch }, { timeoutMs: hasSnap ? this.sendTimeoutMs * 10 : this.sendTimeoutMs });
          if (p.failing) p.failing = false;
          this.sink?.reportContact(p.raftId);
          for (const m of batch) if (m.type === 'snap') this.sink?.reportSnapshot(m.to, true);
        } catch (err) {
          if (this.closed) return;
          const msg = (err as Error).message ?? '';
          if (msg.includes(MEMBER_REMOVED_MESSAGE)) this.sink?.reportRemoved(p.raftId);
          if (!p.failing) this.opts.logger?.warn({ peer: p.raftId, addr: p.addr, err: msg }, 'raft: peer unreachable');
          p.failing = true;
          p.downUntil = Date.now() + this.retryBackoffMs;
          const lost = batch.concat(p.queue.splice(0));
          const snapTo = new Set(lost.filter((m) => m.type === 'snap').map((m) => m.to));
          for (const to of snapTo) this.sink?.reportSnapshot(to, false);
          this.sink?.reportUnreachable(p.raftId);
        }
      }
    } finally {
      p.sending = false;
    }
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
    for (const p of this.peers.values()) {
      p.queue = [];
      p.client?.close();
      p.client = null;
    }
    this.peers.clear();
  }
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
