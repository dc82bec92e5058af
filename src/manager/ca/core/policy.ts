// Certificate policy of the swarm PKI (DESIGN.md §5). Pure: time and randomness come in as parameters.
import { invalidArgument } from '../../../lib/errors';
import type { Rng } from '../../../lib/ports';

export const MANAGER_OU = 'swarm-manager';
export const WORKER_OU = 'swarm-worker';
/** CN of the root CA, and the DNS SAN a manager's certificate carries so it may serve the CA service. */
export const CA_CN = 'swarm-ca';

export type NodeRole = 'manager' | 'worker';
export type CertRole = typeof MANAGER_OU | typeof WORKER_OU;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Node certificates last 90 days unless the cluster spec says otherwise. */
export const DEFAULT_NODE_CERT_EXPIRY_MS = 90 * DAY;
/** The shortest node certificate expiry a cluster spec may ask for. */
export const MIN_NODE_CERT_EXPIRY_MS = HOUR;
/** Root CA certificates last 20 years. */
export const ROOT_CA_EXPIRY_MS = 20 * 365 * DAY;
/** notBefore is backdated by this much to tolerate clock skew between nodes. */
export const CERT_BACKDATE_MS = HOUR;
/** Renewal happens at a random point between these fractions of the validity period. */
export const RENEW_LOWER = 0.5;
export const RENEW_UPPER = 0.8;

export function roleToOU(role: NodeRole): CertRole {
  return role === 'manager' ? MANAGER_OU : WORKER_OU;
}

export function ouToRole(ou: string): NodeRole | null {
  if (ou === MANAGER_OU) return 'manager';
  if (ou === WORKER_OU) return 'worker';
  return null;
}

/** Prints a duration the way Go's time.Duration does for whole hours/minutes/seconds (e.g. "1h0m0s"). */
export function goDuration(ms: number): string {
  const totalS = Math.floor(ms / 1000);
  const h = Math.floor(totalS / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/**
 * The node certificate expiry to use for a cluster spec value (milliseconds; 0/undefined = default).
 * Anything under the minimum is refused, as swarmkit's controlapi does.
 */
export function nodeCertExpiry(requestedMs?: number): number {
  if (requestedMs === undefined || requestedMs === 0) return DEFAULT_NODE_CERT_EXPIRY_MS;
  if (!Number.isFinite(requestedMs) || requestedMs < MIN_NODE_CERT_EXPIRY_MS) {
    throw invalidArgument(`minimum certificate expiry time is: ${goDuration(MIN_NODE_CERT_EXPIRY_MS)}`);
  }
  return requestedMs;
}

/** Validity window of a node certificate issued at `nowMs`. */
export function nodeCertValidity(nowMs: number, expiryMs: number): { notBefore: number; notAfter: number } {
  return { notBefore: nowMs - CERT_BACKDATE_MS, notAfter: nowMs + expiryMs };
}

/** Validity window of a root CA certificate created at `nowMs`. */
export function rootCAValidity(nowMs: number): { notBefore: number; notAfter: number } {
  return { notBefore: nowMs - CERT_BACKDATE_MS, notAfter: nowMs + ROOT_CA_EXPIRY_MS };
}

/**
 * When to renew a certificate: a random instant between 50% and 80% of its validity
 * (spreads renewals so nodes do not stampede the CA). Milliseconds since the epoch.
 */
export function renewalTime(rng: Rng, notBeforeMs: number, notAfterMs: number): number {
  const span = notAfterMs - notBeforeMs;
  if (span <= 0) return notBeforeMs;
  const lo = span * RENEW_LOWER;
  const hi = span * RENEW_UPPER;
  return Math.floor(notBeforeMs + lo + rng.next() * (hi - lo));
}

/** How long to wait from `nowMs` before renewing (0 when already due or expired). */
export function renewalDelay(rng: Rng, nowMs: number, notBeforeMs: number, notAfterMs: number): number {
  return Math.max(0, renewalTime(rng, notBeforeMs, notAfterMs) - nowMs);
}

/** DNS SANs of a node certificate: the role OU, the node ID, and swarm-ca for managers (they serve the CA). */
export function nodeCertDNSNames(nodeId: string, role: NodeRole): string[] {
  return role === 'manager' ? [MANAGER_OU, nodeId, CA_CN] : [WORKER_OU, nodeId];
}

/** The subject fields of a node certificate. */
export function nodeSubject(nodeId: string, role: NodeRole, clusterId: string): { CN: string; OU: CertRole; O: string } {
  if (!nodeId) throw invalidArgument('node ID must not be empty');
  if (!clusterId) throw invalidArgument('cluster ID must not be empty');
  return { CN: nodeId, OU: roleToOU(role), O: clusterId };
}
