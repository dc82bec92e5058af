import type { NetworkNames } from '../../../types';

// The embedded DNS server's decisions, without sockets (docs/design/dns.md). It answers as
// libnetwork's resolver does (resolver.go serveDNS, sandbox ResolveName):
// - A for a known name: its addresses, shuffled on every answer, TTL 600;
// - AAAA and MX for a known name: NOERROR with no records (the name exists, it has no IPv6 address;
//   an empty MX is RFC 5321's "implicit MX");
// - PTR for a task address: `<container name>.<network>`;
// - everything else, and every name it does not own, goes to the upstream resolvers. The server
//   itself never answers NXDOMAIN: a name unknown here may be known upstream, whose answer (NXDOMAIN
//   included) is relayed; with no upstream answering, SERVFAIL.
// A name resolves through the networks of the asking listener in order (user networks before
// ingress, as Docker sorts a sandbox's endpoints), lower-cased, and also as `<name>.<network>`.

/** libnetwork's respTTL. */
export const DNS_TTL = 600;

export interface Question {
  name: string;
  type: string;
}

export interface Record {
  name: string;
  type: 'A' | 'PTR';
  ttl: number;
  data: string;
}

/** NOERROR with these records (possibly none), or ask the upstream resolvers. */
export type Decision = { kind: 'answer'; answers: Record[] } | { kind: 'forward' };

/** Which networks a listener answers for: the given IDs in order, or every network. */
export type Scope = readonly string[] | 'all';

const V4_PTR = '.in-addr.arpa';

export class NameIndex {
  private readonly byId = new Map<string, NetworkNames>();
  private readonly all: NetworkNames[];

  constructor(table: readonly NetworkNames[]) {
    for (const n of table) this.byId.set(n.networkId, n);
    this.all = [...table].sort((a, b) => Number(a.ingress) - Number(b.ingress) || (a.networkName < b.networkName ? -1 : a.networkName > b.networkName ? 1 : 0));
  }

  networks(scope: Scope): NetworkNames[] {
    if (scope === 'all') return this.all;
    const out: NetworkNames[] = [];
    for (const id of scope) {
      const n = this.byId.get(id);
      if (n) out.push(n);
    }
    return out.sort((a, b) => Number(a.ingress) - Number(b.ingress));
  }

  /**
   * The addresses of a name, or undefined when no network of the scope knows it. `a.b.c` is tried
   * as `a.b.c` on every network, then `a.b` on network `c`, then `a` on network `b.c`.
   */
  resolveName(query: string, scope: Scope): string[] | undefined {
    const name = query.endsWith('.') ? query.slice(0, -1) : query;
    const nets = this.networks(scope);
    const tries: [string, string | undefined][] = [[name, undefined]];
    for (let i = name.lastIndexOf('.'); i > 0; i = name.lastIndexOf('.', i - 1)) tries.push([name.slice(0, i), name.slice(i + 1)]);
    for (const [n, network] of tries) {
      const key = n.toLowerCase();
      for (const net of nets) {
        if (network !== undefined && net.networkName !== network) continue;
        const addrs = net.records[key];
        if (addrs) return addrs;
      }
    }
    return undefined;
  }

  /** `<container name>.<network>` for a task address, or undefined. */
  resolveAddr(addr: string, scope: Scope): string | undefined {
    for (const net of this.networks(scope)) {
      const name = net.ptr[addr];
      if (name) return `${name}.${net.networkName}`;
    }
    return undefined;
  }
}

/** The IPv4 address a `d.c.b.a.in-addr.arpa` name asks for, or undefined. */
export function ptrAddress(name: string): string | undefined {
  const n = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
  if (!n.endsWith(V4_PTR)) return undefined;
  const parts = n.slice(0, -V4_PTR.length).split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reverse().join('.');
}

/** Fisher–Yates with the caller's randomness ([0, 1)): Docker shuffles the addresses of every answer. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1)));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function decide(index: NameIndex, scope: Scope, q: Question, random: () => number): Decision {
  const type = q.type.toUpperCase();
  if (type === 'A' || type === 'AAAA' || type === 'MX') {
    const addrs = index.resolveName(q.name, scope);
    if (!addrs) return { kind: 'forward' };
    if (type !== 'A') return { kind: 'answer', answers: [] };
    return { kind: 'answer', answers: shuffled(addrs, random).map((data) => ({ name: q.name, type: 'A', ttl: DNS_TTL, data })) };
  }
  if (type === 'PTR') {
    const addr = ptrAddress(q.name);
    const host = addr ? index.resolveAddr(addr, scope) : undefined;
    if (!host) return { kind: 'forward' };
    return { kind: 'answer', answers: [{ name: q.name, type: 'PTR', ttl: DNS_TTL, data: host }] };
  }
  return { kind: 'forward' };
}
