// The RPC server: grpc-js over mutual TLS, services from defineService(), handlers as plain
// async functions / async iterables. Every call is authorized from the caller's certificate
// before its handler runs (DESIGN.md §5).
import * as grpc from '@grpc/grpc-js';
import { permissionDenied } from '../lib/errors';
import { toStatus, rpcError } from './errors';
import { peerIdentity, checkRole, relayedIdentity, type PeerIdentity } from './peer';
import { toGrpcDefinition, type MethodMap, type MethodSpec, type PeerRole, type ServiceSpec } from './service';
import { MutableServerCredentials, type TlsMaterial } from './tls';
import { AsyncQueue } from './queue';
import type { EncodedMessage } from './codec';

type AnyServerCall =
  | grpc.ServerUnaryCall<unknown, unknown>
  | grpc.ServerReadableStream<unknown, unknown>
  | grpc.ServerWritableStream<unknown, unknown>
  | grpc.ServerDuplexStream<unknown, unknown>;

export interface CallContext {
  /** The verified caller, or null on an anonymous call (allowed only for 'anonymous' methods). */
  peer: PeerIdentity | null;
  /** "/service/Method" */
  method: string;
  metadata: grpc.Metadata;
  /** The transport peer address ("ip:port"). */
  address: string;
  /** Aborted when the client cancels or disconnects. */
  signal: AbortSignal;
  /** The caller's deadline (ms since the epoch), if it set one. */
  deadline?: number;
  /**
   * On a relayable method called by a manager on behalf of a node: that manager (`peer` is the node). The
   * call then came over the manager's connection, so its end says nothing about the node's own connection.
   */
  relayedBy?: PeerIdentity;
  /**
   * On 'anonymous' methods only: a verified certificate that was refused (removed node, other
   * cluster) and why. The call then runs as anonymous; the handler may refuse it outright.
   */
  refusedPeer?: { peer: PeerIdentity; reason: string };
}

type Auth = { peer: PeerIdentity | null; refusedPeer?: { peer: PeerIdentity; reason: string }; relayedBy?: PeerIdentity };
type MethodAuth = Pick<MethodSpec<unknown, unknown>, 'access' | 'relayable' | 'oneWriteAtATime'>;

type UnaryH<Req, Res> = (req: Req, ctx: CallContext) => Res | Promise<Res>;
/** A server stream's messages, or the bytes of messages encoded elsewhere (a relay's, codec.ts EncodedMessage). */
type ServerStreamH<Req, Res> = (req: Req, ctx: CallContext) => AsyncIterable<Res | EncodedMessage>;
type ClientStreamH<Req, Res> = (reqs: AsyncIterable<Req>, ctx: CallContext) => Promise<Res>;
type BidiH<Req, Res> = (reqs: AsyncIterable<Req>, ctx: CallContext) => AsyncIterable<Res>;

export type HandlerFor<S> =
  S extends MethodSpec<infer Req, infer Res, 'unary'>
    ? UnaryH<Req, Res>
    : S extends MethodSpec<infer Req, infer Res, 'serverStream'>
      ? ServerStreamH<Req, Res>
      : S extends MethodSpec<infer Req, infer Res, 'clientStream'>
        ? ClientStreamH<Req, Res>
        : S extends MethodSpec<infer Req, infer Res, 'bidi'>
          ? BidiH<Req, Res>
          : never;

export type Handlers<M extends MethodMap> = { [K in keyof M]: HandlerFor<M[K]> };

export interface RpcServerOptions extends TlsMaterial {
  /** "host:port"; port 0 picks a free one. */
  address: string;
  /**
   * 'require' (default): the handshake itself demands a client certificate from our CA.
   * 'optional': certificates are verified when sent; calls without one reach only methods whose
   * access is 'anonymous' (the manager port, which must also serve joining nodes: see docs/design/rpc.md).
   */
  clientAuth?: 'require' | 'optional';
  /** When set, certificates of another cluster (O=…) are refused. */
  clusterId?: string;
  /** Consulted on every authenticated call; false refuses the node (removed from the swarm). */
  isNodeAllowed?: (nodeId: string) => boolean | Promise<boolean>;
  /** Extra grpc-js server options. */
  grpcOptions?: grpc.ServerOptions;
}

/**
 * A wrapper that refuses callers without one of `roles` with PERMISSION_DENIED. Method access in a
 * ServiceSpec does the same declaratively; this is for handlers that need a stricter check.
 */
export function requireRole(roles: readonly PeerRole[]) {
  return <A, R>(handler: (arg: A, ctx: CallContext) => R) =>
    (arg: A, ctx: CallContext): R => {
      checkRole(ctx.peer, roles);
      return handler(arg, ctx);
    };
}

export class RpcServer {
  readonly server: grpc.Server;
  private readonly creds: MutableServerCredentials;
  private boundPort: number | null = null;

  constructor(private readonly opts: RpcServerOptions) {
    this.server = new grpc.Server({ 'grpc.max_receive_message_length': 128 * 1024 * 1024, 'grpc.max_send_message_length': 128 * 1024 * 1024, ...opts.grpcOptions });
    this.creds = new MutableServerCredentials(opts, (opts.clientAuth ?? 'require') === 'require');
  }

  get port(): number {
    if (this.boundPort === null) throw new Error('server not started');
    return this.boundPort;
  }

  /** Registers a service; every method needs a handler. */
  addService<M extends MethodMap>(spec: ServiceSpec<M>, handlers: Handlers<M>): void {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [name, m] of Object.entries(spec.methods)) {
      const h = (handlers as Record<string, unknown>)[name];
      if (typeof h !== 'function') throw new Error(`no handler for ${spec.name}/${name}`);
      const path = `/${spec.name}/${name}`;
      switch (m.kind) {
        case 'unary':
          impl[name] = this.unary(path, m, h as UnaryH<unknown, unknown>);
          break;
        case 'serverStream':
          impl[name] = this.serverStream(path, m, h as ServerStreamH<unknown, unknown>);
          break;
        case 'clientStream':
          impl[name] = this.clientStream(path, m, h as ClientStreamH<unknown, unknown>);
          break;
        case 'bidi':
          impl[name] = this.bidi(path, m, h as BidiH<unknown, unknown>);
          break;
      }
    }
    this.server.addService(toGrpcDefinition(spec), impl);
  }

  /** Binds the address; resolves with the port. */
  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(this.opts.address, this.creds, (err, port) => {
        if (err) return reject(err);
        this.boundPort = port;
        resolve(port);
      });
    });
  }

  /** Swap certificate/key/roots in place (renewal, root rotation); new connections use them. */
  updateCredentials(material: Partial<TlsMaterial>): void {
    this.creds.update(material);
  }

  /** Stops accepting calls, waits up to `graceMs` for running ones, then cuts the rest. */
  async stop(graceMs = 2000): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  forceStop(): void {
    this.server.forceShutdown();
  }

  // ---- authorization -------------------------------------------------------------------------

  private async authorize(call: AnyServerCall, spec: MethodAuth): Promise<Auth> {
    const access = spec.access;
    const peer = peerIdentity(call);
    const reason = await this.refusal(peer);
    if (access === 'anonymous') {
      // a refused node may still fetch the root CA or join again with a token
      return reason && peer ? { peer: null, refusedPeer: { peer, reason } } : { peer };
    }
    if (reason) throw permissionDenied(reason);
    if (!peer) throw rpcError(grpc.status.UNAUTHENTICATED, 'no valid client certificate was presented');
    // Only a manager's word on whom it relays for counts; anyone else's call is its own.
    const relayed = spec.relayable && peer.role === 'swarm-manager' ? relayedIdentity(call.metadata) : null;
    if (relayed) {
      const relayedReason = await this.refusal(relayed);
      if (relayedReason) throw permissionDenied(relayedReason);
      return { peer: checkRole(relayed, access), relayedBy: peer };
    }
    return { peer: checkRole(peer, access) };
  }

  /** Why a verified identity may not call (another cluster, a removed node), or null. */
  private async refusal(peer: PeerIdentity | null): Promise<string | null> {
    if (peer && this.opts.clusterId && peer.clusterId !== this.opts.clusterId) return `Permission denied: remote certificate not part of organization: ${this.opts.clusterId}`;
    if (peer && this.opts.isNodeAllowed && !(await this.opts.isNodeAllowed(peer.nodeId))) return `Permission denied: node ${peer.nodeId} was removed from swarm`;
    return null;
  }

  /**
   * The handler's context. Its signal aborts when the caller cancels while the handler runs; grpc-js
   * also reports "cancelled" for every unary call once its stream closes after the answer, and an abort
   * then (a DOMException each, ~30 µs) served nobody: at 1,000 nodes that was 1 % of the leader's CPU.
   */
  private context(call: AnyServerCall, path: string, auth: Auth): { ctx: CallContext; finished: () => void } {
    const ac = new AbortController();
    let running = true;
    (call as { on(ev: string, f: () => void): unknown }).on('cancelled', () => {
      if (running) ac.abort();
    });
    const ctx: CallContext = { peer: auth.peer, method: path, metadata: call.metadata, address: call.getPeer(), signal: ac.signal };
    if (auth.refusedPeer) ctx.refusedPeer = auth.refusedPeer;
    if (auth.relayedBy) ctx.relayedBy = auth.relayedBy;
    const deadline = call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : deadline;
    if (Number.isFinite(ms)) ctx.deadline = ms;
    return { ctx, finished: () => (running = false) };
  }

  // ---- method adapters -----------------------------------------------------------------------

  private unary(path: string, spec: MethodAuth, h: UnaryH<unknown, unknown>): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      void (async () => {
        try {
          const auth = await this.authorize(call, spec);
          const { ctx, finished } = this.context(call, path, auth);
          let res: unknown;
          try {
            res = await h(call.request, ctx);
          } finally {
            finished();
          }
          callback(null, res === undefined ? null : res);
        } catch (e) {
          callback(toStatus(e));
        }
      })();
    };
  }

  private clientStream(path: string, spec: MethodAuth, h: ClientStreamH<unknown, unknown>): grpc.handleClientStreamingCall<unknown, unknown> {
    return (call, callback) => {
      void (async () => {
        try {
          const auth = await this.authorize(call, spec);
          const { ctx, finished } = this.context(call, path, auth);
          let res: unknown;
          try {
            res = await h(readableToIterable(call), ctx);
          } finally {
            finished();
          }
          callback(null, res === undefined ? null : res);
        } catch (e) {
          callback(toStatus(e));
        }
      })();
    };
  }

  private serverStream(path: string, spec: MethodAuth, h: ServerStreamH<unknown, unknown>): grpc.handleServerStreamingCall<unknown, unknown> {
    return (call) => {
      void (async () => {
        try {
          const auth = await this.authorize(call, spec);
          const { ctx, finished } = this.context(call, path, auth);
          await pump(h(call.request, ctx), call, ctx.signal, spec.oneWriteAtATime === true).finally(finished);
        } catch (e) {
          if (!call.cancelled) call.emit('error', toStatus(e));
        }
      })();
    };
  }

  private bidi(path: string, spec: MethodAuth, h: BidiH<unknown, unknown>): grpc.handleBidiStreamingCall<unknown, unknown> {
    return (call) => {
      void (async () => {
        try {
          const auth = await this.authorize(call, spec);
          const { ctx, finished } = this.context(call, path, auth);
          await pump(h(readableToIterable(call), ctx), call, ctx.signal).finally(finished);
        } catch (e) {
          if (!call.cancelled) call.emit('error', toStatus(e));
        }
      })();
    };
  }
}

/**
 * Requests of a streaming call as an async iterable that ends on half-close or cancellation.
 * (Not the stream's own async iterator: finishing that destroys the duplex, and with it our
 * chance to send the final status.) Reading pauses while more than HIGH_WATER requests wait.
 */
const HIGH_WATER = 64;
function readableToIterable<T>(call: grpc.ServerReadableStream<T, unknown> | grpc.ServerDuplexStream<T, unknown>): AsyncIterable<T> {
  const q = new AsyncQueue<T>();
  let paused = false;
  call.on('data', (d: T) => {
    q.push(d);
    if (q.size >= HIGH_WATER && !paused) {
      paused = true;
      call.pause();
    }
  });
  call.once('end', () => q.end());
  call.once('cancelled', () => q.end());
  call.once('error', () => q.end());
  return {
    [Symbol.asyncIterator]: () => {
      const it = q[Symbol.asyncIterator]();
      return {
        next: () => {
          if (paused && q.size < HIGH_WATER / 2) {
            paused = false;
            call.resume();
          }
          return it.next();
        },
        return: () => it.return!(),
      };
    },
  };
}

function waitDrain(call: NodeJS.EventEmitter, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.on('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Until grpc-js has written `value` to the connection (its write callback), or the call ends (a cancelled call never calls back). */
function writeWritten(call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, value: unknown, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    call.write(value, done);
  });
}

/**
 * Writes a handler's responses with backpressure, ending the call when they end. `oneAtATime`: the next
 * response is asked for only once the last one is written (MethodSpec.oneWriteAtATime); else as soon as
 * grpc-js's buffer has room.
 */
async function pump(responses: AsyncIterable<unknown>, call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, signal: AbortSignal, oneAtATime = false): Promise<void> {
  const it = responses[Symbol.asyncIterator]();
  const onAbort = () => void it.return?.();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    // A response per call of pumpOne, so none is held while the next is awaited: a loop awaiting `it.next()` in
    // its own frame kept its last response alive for as long as the stream stayed idle (V8 keeps it in the
    // suspended frame): a node's complete set on each of a relay's streams (performance.md, tenth stop).
    while (await pumpOne(it, call, signal, oneAtATime));
    if (!signal.aborted) call.end();
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Writes the next response; false once there is none (or the call ended). */
async function pumpOne(it: AsyncIterator<unknown>, call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, signal: AbortSignal, oneAtATime: boolean): Promise<boolean> {
  if (signal.aborted) return false;
  const r = await it.next();
  if (r.done || signal.aborted) return false;
  const value = r.value === undefined ? null : r.value;
  if (oneAtATime) await writeWritten(call, value, signal);
  else if (!call.write(value)) await waitDrain(call, signal);
  return true;
}

/** Creates (does not start) a server; add services, then `await server.start()`. */
export function createRpcServer(opts: RpcServerOptions): RpcServer {
  return new RpcServer(opts);
}
