// Who is calling: the identity in the caller's verified TLS client certificate.
import { TLSSocket, type PeerCertificate } from 'node:tls';
import { permissionDenied } from '../lib/errors';
import type { PeerRole } from './service';

export interface PeerIdentity {
  nodeId: string;
  role: PeerRole;
  clusterId: string;
  /** Certificate serial (hex, upper case as Node prints it). */
  serial: string;
  /** Milliseconds since the epoch. */
  notAfter: number;
}

/** Anything with grpc-js's getAuthContext (server calls in grpc-js ≥ 1.10). */
export interface HasAuthContext {
  getAuthContext?: () => { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate } | null;
}

const first = (v: string | string[] | undefined): string => (Array.isArray(v) ? (v[0] ?? '') : (v ?? ''));
const all = (v: string | string[] | undefined): string[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** The identity in a certificate Node parsed, or null when it is not a swarm node certificate. */
export function identityFromCertificate(cert: PeerCertificate | undefined): PeerIdentity | null {
  if (!cert || !cert.subject) return null;
  const ous = all(cert.subject.OU as string | string[] | undefined);
  const role = ous.includes('swarm-manager') ? 'swarm-manager' : ous.includes('swarm-worker') ? 'swarm-worker' : null;
  const nodeId = first(cert.subject.CN as string | string[] | undefined);
  if (!role || !nodeId) return null;
  return {
    nodeId,
    role,
    clusterId: first(cert.subject.O as string | string[] | undefined),
    serial: cert.serialNumber ?? '',
    notAfter: cert.valid_to ? Date.parse(cert.valid_to) : 0,
  };
}

/**
 * The TLS connection a grpc-js server call arrived on (call → its intercepting call → the base call's
 * HTTP/2 stream → session → socket), or undefined where grpc-js is laid out otherwise.
 */
export function callSocket(call: HasAuthContext): TLSSocket | undefined {
  type Inner = { call?: Inner; nextCall?: Inner; stream?: { session?: { socket?: unknown } } };
  let c = call as Inner | undefined;
  for (let depth = 0; c && depth < 4; depth++) {
    const socket = c.stream?.session?.socket;
    if (socket instanceof TLSSocket) return socket;
    c = c.call ?? c.nextCall;
  }
  return undefined;
}

/**
 * A connection's identity does not change (TLS 1.3, no renegotiation), and reading the certificate
 * converts it to a JS object each time: at 1,000 nodes that was 4 % of the leader's CPU, once per RPC.
 */
const identityBySocket = new WeakMap<TLSSocket, PeerIdentity | null>();

/**
 * The caller's identity. grpc-js returns the peer certificate only when the TLS layer verified it
 * against our roots (socket.authorized), so a forged or expired certificate reads as "no identity".
 */
export function peerIdentity(call: HasAuthContext): PeerIdentity | null {
  const socket = callSocket(call);
  if (socket?.authorized) {
    const known = identityBySocket.get(socket);
    if (known !== undefined) return known;
  }
  const ctx = call.getAuthContext?.();
  const peer = ctx && ctx.transportSecurityType === 'ssl' ? identityFromCertificate(ctx.sslPeerCertificate) : null;
  if (socket?.authorized) identityBySocket.set(socket, peer);
  return peer;
}

/**
 * What a manager relaying a node's call (a `relayable` method, service.ts) adds to it: the identity it
 * verified in that node's certificate. The server believes it only from a manager's connection (a manager
 * holds the cluster's CA key and could sign any certificate anyway) and checks it as it checks its own
 * callers (cluster, removed nodes, role).
 */
const RELAYED_FOR = { nodeId: 'shoal-relayed-node', role: 'shoal-relayed-role', clusterId: 'shoal-relayed-cluster' } as const;

export function relayMetadata(peer: Pick<PeerIdentity, 'nodeId' | 'role' | 'clusterId'>): Record<string, string> {
  return { [RELAYED_FOR.nodeId]: peer.nodeId, [RELAYED_FOR.role]: peer.role, [RELAYED_FOR.clusterId]: peer.clusterId };
}

/** The relayed identity in a call's metadata (`get` as grpc-js's Metadata has it), or null when there is none or it is malformed. */
export function relayedIdentity(md: { get(key: string): unknown[] }): PeerIdentity | null {
  const one = (k: string): string => {
    const v = md.get(k);
    return v.length === 1 && typeof v[0] === 'string' ? v[0] : '';
  };
  const nodeId = one(RELAYED_FOR.nodeId);
  const role = one(RELAYED_FOR.role);
  if (!nodeId || (role !== 'swarm-manager' && role !== 'swarm-worker')) return null;
  return { nodeId, role, clusterId: one(RELAYED_FOR.clusterId), serial: '', notAfter: 0 };
}

/** Throws PermissionDenied unless the peer holds one of `roles`. */
export function checkRole(peer: PeerIdentity | null, roles: readonly PeerRole[]): PeerIdentity {
  if (!peer) throw permissionDenied('Permission denied: no valid client certificate was presented');
  if (!roles.includes(peer.role)) {
    throw permissionDenied(`Permission denied: unauthorized peer role: remote certificate not part of roles: [${roles.join(' ')}]`);
  }
  return peer;
}
