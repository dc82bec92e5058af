// What a new session writes to the node's object. Docker moves a node's Version only on real
// changes: a clients' `inspect` then `update --version` must not lose a race against an agent that
// reconnects with the same facts (docker-py's test_update_node does exactly that after `swarm init`).
import type { Node, SessionRequest } from '../../../types';

/**
 * The node as a session with `req` leaves it: created as a worker if unknown, else its description
 * and status replaced. Undefined when the session changes nothing, so nothing is written.
 */
export function registeredNode(existing: Node | undefined, req: SessionRequest, now: string): Node | undefined {
  // The TLS facts come from the certificate, not from the agent: keep them when it sends none.
  const tls = req.description.TLSInfo ?? existing?.Description?.TLSInfo;
  const Description = tls ? { ...req.description, TLSInfo: tls } : req.description;
  const Status: Node['Status'] = { State: 'ready', Addr: req.addr };
  if (!existing) {
    return { ID: req.nodeId, Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now, Spec: { Role: 'worker', Availability: 'active' }, Description, Status };
  }
  if (sameData(existing.Description, Description) && sameData(existing.Status, Status)) return undefined;
  return { ...existing, Description, Status, UpdatedAt: now };
}

/** Equal as stored data: key order and undefined-valued keys do not count (a Raft round trip drops them). */
export function sameData(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
    const o = x as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  });
}
