// The RPC client: one grpc-js channel to one node over mutual TLS, typed by ServiceSpec.
import * as grpc from '@grpc/grpc-js';
import { fromGrpcError } from './errors';
import { deserialize, keepEncoded, serialize, type EncodedMessage } from './codec';
import { methodPath, type MethodMap, type MethodSpec, type ReqOf, type ResOf, type ServiceSpec } from './service';
import { clientCredentials, type ClientCredentialsCache, type ClientTlsOptions } from './tls';
import { rpcDropped } from './drop-filter';
import { rpcError } from './errors';

export interface CallOptions {
  /** Milliseconds from now. */
  timeoutMs?: number;
  signal?: AbortSignal;
  metadata?: Record<string, string>;
}

export interface RpcClientOptions extends ClientTlsOptions {
  /** Extra grpc-js channel options. */
  grpcOptions?: grpc.ChannelOptions;
  /** Reuse the credentials (one TLS context) of the owner's earlier clients with the same material. */
  credentialsCache?: ClientCredentialsCache;
}

/** A response stream; iterate it, or cancel() to stop early. */
export interface ResponseStream<Res> extends AsyncIterable<Res> {
  cancel(): void;
}

/** A bidirectional stream. */
export interface BidiStream<Req, Res> {
  /** Resolves once the message is handed to the transport (backpressure). */
  send(req: Req): Promise<void>;
  /** Half-closes our side. */
  end(): void;
  cancel(): void;
  responses: AsyncIterable<Res>;
}

type MethodsOfKind<M extends MethodMap, K> = { [N in keyof M]: M[N] extends MethodSpec<any, any, infer MK> ? (MK extends K ? N : never) : never }[keyof M] & string;

function toMetadata(m?: Record<string, string>): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(m ?? {})) md.set(k, v);
  return md;
}

function callOptions(o?: CallOptions): grpc.CallOptions {
  return o?.timeoutMs !== undefined ? { deadline: Date.now() + o.timeoutMs } : {};
}

/**
 * Runs `fn` (a cancel or a close, which send RST_STREAM / tear the connection down) now, or, while
 * a test's drop filter (src/rpc/drop-filter.ts) drops traffic to `address`, once it heals: a partitioned peer must not
 * learn that we gave up on it.
 */
function whenReachable(address: string, fn: () => void): void {
  if (!rpcDropped(address)) return fn();
  const t = setInterval(() => {
    if (rpcDropped(address)) return;
    clearInterval(t);
    fn();
  }, 200);
  t.unref();
}

function bindSignal(call: { cancel(): void }, signal: AbortSignal | undefined, address: string): void {
  if (!signal) return;
  if (signal.aborted) call.cancel();
  else signal.addEventListener('abort', () => whenReachable(address, () => call.cancel()), { once: true });
}

/**
 * What a call dropped by a test's drop filter (src/rpc/drop-filter.ts) looks like: nothing reaches the peer; it fails at
 * its deadline (30 s when none was given) or ends when cancelled, like a call into a black hole.
 */
function blackHole(o?: CallOptions): { done: Promise<never>; cancel(): void } {
  let cancel = () => undefined as void;
  const done = new Promise<never>((_resolve, reject) => {
    const t = setTimeout(() => reject(rpcError(grpc.status.DEADLINE_EXCEEDED, 'Deadline Exceeded')), o?.timeoutMs ?? 30_000);
    cancel = () => {
      clearTimeout(t);
      reject(rpcError(grpc.status.CANCELLED, 'Cancelled on client'));
    };
    if (o?.signal?.aborted) cancel();
    else o?.signal?.addEventListener('abort', cancel, { once: true });
  });
  done.catch(() => undefined);
  return { done, cancel: () => cancel() };
}

async function* mapErrors<T>(src: AsyncIterable<T>, dropped: () => boolean = () => false): AsyncIterable<T> {
  const it = src[Symbol.asyncIterator]();
  let ended = false;
  try {
    // Not a `for await`: it kept the last message alive while it waited for the next (V8 keeps it in the
    // suspended frame), a relayed node's complete set for as long as its assignments did not change
    // (performance.md, tenth stop). Each reference is dropped once the message is taken.
    for (;;) {
      let r: IteratorResult<T> | undefined = await it.next();
      if (r.done) {
        ended = true;
        return;
      }
      let v: T | undefined = r.value;
      r = undefined;
      if (!dropped()) yield v;
      v = undefined;
    }
  } catch (e) {
    ended = true;
    const err = fromGrpcError(e);
    if (err.code === grpc.status.CANCELLED) return; // we cancelled: the stream just ends
    throw err;
  } finally {
    // left early (the caller stopped reading): the source is closed, as a `for await` would
    if (!ended) await it.return?.();
  }
}

export class RpcClient {
  readonly client: grpc.Client;
  /** The channel's TLS credentials (shared with other clients of the same ClientCredentialsCache and material). */
  readonly credentials: grpc.ChannelCredentials;

  constructor(
    readonly address: string,
    opts: RpcClientOptions,
  ) {
    const serverName = opts.serverName ?? 'swarm-manager';
    this.credentials = opts.credentialsCache?.get(opts) ?? clientCredentials(opts);
    this.client = new grpc.Client(address, this.credentials, {
      'grpc.ssl_target_name_override': serverName,
      'grpc.default_authority': serverName,
      // never share a TCP connection with another client that has different credentials
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 128 * 1024 * 1024,
      'grpc.max_send_message_length': 128 * 1024 * 1024,
      ...opts.grpcOptions,
    });
  }

  unary<M extends MethodMap, N extends MethodsOfKind<M, 'unary'>>(svc: ServiceSpec<M>, method: N, req: ReqOf<M[N]>, opts?: CallOptions): Promise<ResOf<M[N]>> {
    if (rpcDropped(this.address)) return blackHole(opts).done;
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(methodPath(svc, method), serialize, deserialize, req, toMetadata(opts?.metadata), callOptions(opts), (err, res) => {
        if (err) reject(fromGrpcError(err));
        else resolve(res as ResOf<M[N]>);
      });
      bindSignal(call, opts?.signal, this.address);
    });
  }

  serverStream<M extends MethodMap, N extends MethodsOfKind<M, 'serverStream'>>(svc: ServiceSpec<M>, method: N, req: ReqOf<M[N]>, opts?: CallOptions): ResponseStream<ResOf<M[N]>> {
    return this.openServerStream<ResOf<M[N]>>(methodPath(svc, method), req, deserialize, opts);
  }

  /** The same stream, its messages left encoded: for a relay that forwards them as they came (codec.ts EncodedMessage). */
  serverStreamEncoded<M extends MethodMap, N extends MethodsOfKind<M, 'serverStream'>>(svc: ServiceSpec<M>, method: N, req: ReqOf<M[N]>, opts?: CallOptions): ResponseStream<EncodedMessage> {
    return this.openServerStream(methodPath(svc, method), req, keepEncoded, opts);
  }

  private openServerStream<T>(path: string, req: unknown, decode: (buf: Buffer) => T, opts?: CallOptions): ResponseStream<T> {
    if (rpcDropped(this.address)) {
      const hole = blackHole(opts);
      const it = mapErrors<T>({ [Symbol.asyncIterator]: () => ({ next: () => hole.done }) });
      return { [Symbol.asyncIterator]: () => it[Symbol.asyncIterator](), cancel: () => hole.cancel() };
    }
    const call = this.client.makeServerStreamRequest(path, serialize, decode, req, toMetadata(opts?.metadata), callOptions(opts));
    bindSignal(call, opts?.signal, this.address);
    const it = mapErrors(call as AsyncIterable<T>, () => rpcDropped(this.address));
    return { [Symbol.asyncIterator]: () => it[Symbol.asyncIterator](), cancel: () => whenReachable(this.address, () => call.cancel()) };
  }

  clientStream<M extends MethodMap, N extends MethodsOfKind<M, 'clientStream'>>(
    svc: ServiceSpec<M>,
    method: N,
    opts?: CallOptions,
  ): { send(req: ReqOf<M[N]>): Promise<void>; end(): void; cancel(): void; response: Promise<ResOf<M[N]>> } {
    let call!: grpc.ClientWritableStream<unknown>;
    const response = new Promise<ResOf<M[N]>>((resolve, reject) => {
      call = this.client.makeClientStreamRequest(methodPath(svc, method), serialize, deserialize, toMetadata(opts?.metadata), callOptions(opts), (err, res) => {
        if (err) reject(fromGrpcError(err));
        else resolve(res as ResOf<M[N]>);
      });
    });
    bindSignal(call, opts?.signal, this.address);
    return { send: (r) => writeWithBackpressure(call, r), end: () => call.end(), cancel: () => call.cancel(), response };
  }

  bidi<M extends MethodMap, N extends MethodsOfKind<M, 'bidi'>>(svc: ServiceSpec<M>, method: N, opts?: CallOptions): BidiStream<ReqOf<M[N]>, ResOf<M[N]>> {
    const codec = svc.methods[method]!.codec;
    const call = this.client.makeBidiStreamRequest(methodPath(svc, method), codec?.req.serialize ?? serialize, codec?.res.deserialize ?? deserialize, toMetadata(opts?.metadata), callOptions(opts));
    bindSignal(call, opts?.signal, this.address);
    // while a test's drop filter cuts the peer off, a message sent is lost and one received is not seen, as on a server stream
    return {
      send: (r) => (rpcDropped(this.address) ? Promise.resolve() : writeWithBackpressure(call, r)),
      end: () => call.end(),
      cancel: () => call.cancel(),
      responses: mapErrors(call as AsyncIterable<ResOf<M[N]>>, () => rpcDropped(this.address)),
    };
  }

  /** Resolves when the channel is connected (TLS handshake done), rejects after `timeoutMs`. */
  waitForReady(timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(fromGrpcError(err)) : resolve()));
    });
  }

  /**
   * Whether the channel has its connection or is making it (TCP and the TLS handshake under way): a new
   * call on it then costs no handshake. False once it failed, went idle, or was closed.
   */
  connectedOrConnecting(): boolean {
    const state = this.client.getChannel().getConnectivityState(false);
    return state === grpc.connectivityState.READY || state === grpc.connectivityState.CONNECTING;
  }

  /** Starts making the channel's connection if it has none and is not making one (no call needed). */
  connect(): void {
    this.client.getChannel().getConnectivityState(true);
  }

  /**
   * Resolves once the channel has its connection (starting one if it is idle). Rejects at once when the
   * attempt fails (Unavailable, reason `not-sent`, as grpc-js's own "no connection" failure of a call) and
   * after `timeoutMs` while it is still being made (DeadlineExceeded): a call made after it then has its
   * whole deadline for the answer.
   */
  connected(timeoutMs: number): Promise<void> {
    const channel = this.client.getChannel();
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const state = channel.getConnectivityState(true);
        if (state === grpc.connectivityState.READY) return resolve();
        if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) {
          return reject(rpcError(grpc.status.UNAVAILABLE, `No connection established to ${this.address}`, 'not-sent'));
        }
        channel.watchConnectivityState(state, deadline, (err) => {
          if (err) reject(rpcError(grpc.status.DEADLINE_EXCEEDED, `no connection to ${this.address} within ${timeoutMs} ms`, 'not-sent'));
          else check();
        });
      };
      check();
    });
  }

  close(): void {
    whenReachable(this.address, () => this.client.close());
  }
}

function writeWithBackpressure(call: grpc.ClientWritableStream<unknown> | grpc.ClientDuplexStream<unknown, unknown>, msg: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    call.write(msg === undefined ? null : msg, (err: unknown) => (err ? reject(fromGrpcError(err)) : resolve()));
  });
}

/**
 * Reconnect backoff for channels between managers: from 100 ms, at most 1 s. grpc-js fails calls at once
 * while a channel waits out its backoff, which by default grows to 120 s: a manager that was down that
 * long and comes back (as the leader, say) would stay unreachable that long from its peers.
 */
export const PEER_RECONNECT: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
};

/** How often keepConnected looks at its channels. */
export const KEEP_CONNECTED_INTERVAL_MS = 5_000;

/**
 * Keeps channels connected without calls on them: now and every `intervalMs`, each channel
 * `channels()` lists that has no connection and is not making one starts making it. (grpc-js connects a
 * channel only for a call, and lets an unused one go idle after 30 minutes.) Returns the stop function.
 */
export function keepConnected(channels: () => Iterable<RpcClient>, intervalMs = KEEP_CONNECTED_INTERVAL_MS): () => void {
  const look = (): void => {
    for (const c of channels()) c.connect();
  };
  look();
  const timer = setInterval(look, intervalMs);
  timer.unref?.();
  return () => clearInterval(timer);
}

export function createRpcClient(address: string, opts: RpcClientOptions): RpcClient {
  return new RpcClient(address, opts);
}
