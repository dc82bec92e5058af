// Service definitions without protobuf: a service is a name plus methods, each with a kind and the
// certificate roles allowed to call it. Types ride along as phantoms so clients and handlers are typed.
import type * as grpc from '@grpc/grpc-js';
import { serialize, deserialize } from './codec';

export type MethodKind = 'unary' | 'serverStream' | 'clientStream' | 'bidi';
/** The OU of a swarm node certificate. */
export type PeerRole = 'swarm-manager' | 'swarm-worker';
/** Who may call: 'anonymous' = anyone reaching the TLS port (cert optional); else these roles. */
export type Access = 'anonymous' | readonly PeerRole[];

/** A method's own wire encoding of one message, instead of codec.ts's JSON. */
export interface WireCodec<T> {
  serialize(value: T): Buffer;
  deserialize(buf: Buffer): T;
}

export interface MethodSpec<Req, Res, K extends MethodKind = MethodKind> {
  readonly kind: K;
  readonly access: Access;
  /** For a hot stream whose messages are bytes already (the Raft stream): no JSON, no base64. */
  readonly codec?: { readonly req: WireCodec<Req>; readonly res: WireCodec<Res> };
  /**
   * A manager may make this call on behalf of the node whose call it relays (peer.ts, relayMetadata): the
   * handler then sees that node as its peer. The dispatcher's methods are relayable, so that an agent keeps
   * its connection to any manager while the leader serves its session (swarmkit's raft proxy).
   */
  readonly relayable?: boolean;
  /**
   * A server stream whose handler is asked for its next message only once the last one is written to the
   * connection (grpc-js's write callback), not as soon as grpc-js buffers it: a handler that coalesces what
   * comes meanwhile (the dispatcher's assignments) then holds one encoded message per call, and its own
   * resumption says that message has left (issue 15: a leader change sent 1,000 complete sets at once).
   */
  readonly oneWriteAtATime?: boolean;
  /** Phantom: never set, carries the request/response types. */
  readonly __types?: (req: Req) => Res;
}

export type AnyMethod = MethodSpec<any, any, MethodKind>;
export type MethodMap = Record<string, AnyMethod>;

export interface ServiceSpec<M extends MethodMap = MethodMap> {
  /** Fully qualified, e.g. "shoal.Raft"; methods are served at /<name>/<method>. */
  readonly name: string;
  readonly methods: M;
}

export type ReqOf<S> = S extends MethodSpec<infer Req, any, any> ? Req : never;
export type ResOf<S> = S extends MethodSpec<any, infer Res, any> ? Res : never;

/** Options of a method other than its access. */
export interface MethodOptions {
  relayable?: boolean;
  oneWriteAtATime?: boolean;
}
const opts = (o?: MethodOptions) => ({ ...(o?.relayable ? { relayable: true } : {}), ...(o?.oneWriteAtATime ? { oneWriteAtATime: true } : {}) });
export const unary = <Req, Res>(access: Access, o?: MethodOptions): MethodSpec<Req, Res, 'unary'> => ({ kind: 'unary', access, ...opts(o) });
export const serverStream = <Req, Res>(access: Access, o?: MethodOptions): MethodSpec<Req, Res, 'serverStream'> => ({ kind: 'serverStream', access, ...opts(o) });
export const clientStream = <Req, Res>(access: Access, o?: MethodOptions): MethodSpec<Req, Res, 'clientStream'> => ({ kind: 'clientStream', access, ...opts(o) });
export const bidi = <Req, Res>(access: Access, codec?: MethodSpec<Req, Res>['codec']): MethodSpec<Req, Res, 'bidi'> => ({ kind: 'bidi', access, ...(codec ? { codec } : {}) });

export const MANAGERS: readonly PeerRole[] = ['swarm-manager'];
export const ALL_NODES: readonly PeerRole[] = ['swarm-manager', 'swarm-worker'];

export function defineService<M extends MethodMap>(name: string, methods: M): ServiceSpec<M> {
  if (!/^[A-Za-z_][\w.]*$/.test(name)) throw new Error(`bad service name ${name}`);
  return { name, methods };
}

export function methodPath(service: ServiceSpec, method: string): string {
  return `/${service.name}/${method}`;
}

/** The grpc-js definition of a service (what `server.addService` takes). */
export function toGrpcDefinition(service: ServiceSpec): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, m] of Object.entries(service.methods)) {
    def[name] = {
      path: methodPath(service, name),
      requestStream: m.kind === 'clientStream' || m.kind === 'bidi',
      responseStream: m.kind === 'serverStream' || m.kind === 'bidi',
      requestSerialize: m.codec?.req.serialize ?? serialize,
      requestDeserialize: m.codec?.req.deserialize ?? deserialize,
      responseSerialize: m.codec?.res.serialize ?? serialize,
      responseDeserialize: m.codec?.res.deserialize ?? deserialize,
      originalName: name,
    };
  }
  return def as grpc.ServiceDefinition;
}
