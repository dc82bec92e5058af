// Which conntrack entries the kernel path drops when a backend leaves a port's map (mesh.md "Kernel path",
// "Conntrack"). Pure: the previous and next maps, the time and `conntrack -L` text come in; the removed backends to
// watch and the `conntrack -D` filters to run come out.
//
// Why: the map decides only for NEW connections. Conntrack keeps each flow's DNAT binding, and a client 5-tuple
// reused while its old entry lingers (SYN_SENT retransmits, CLOSE after a reset, an entry whose FIN was never seen)
// goes on to the backend it first chose, even after that backend left the map and stopped: the kernel has no connect
// retry as the user-space proxy has. UDP flows stay on their backend until idle (30–120 s). So when a backend leaves:
// - its UDP flows are dropped (the next datagram of the flow is balanced again over the backends left);
// - its TCP entries that carry no live connection and that the kernel would not reopen by itself (CLOSE; SYN_SENT,
//   SYN_RECV, LAST_ACK once they are stuck, see IN_PROGRESS_TCP_STATES) are dropped, and again on every sweep while it
//   is watched (a connection that ends after the backend left, e.g. reset when the task stops, leaves such an entry
//   behind); ESTABLISHED and half-closed ones (FIN_WAIT, CLOSE_WAIT) are kept: they are the open connections the drain
//   lets finish, and dropping them would send their next packet to another backend, which resets it.
// - TIME_WAIT is kept: a SYN on its 5-tuple makes the kernel drop the entry and balance the SYN anew (both FINs were
//   seen), and while it lingers the masquerade will not hand its source tuple to a new flow, whose SYN could then meet
//   the backend's own TIME_WAIT socket of the old connection.
import type { KernelPort } from './nft';
import type { MeshProtocol } from './types';

/** How long a removed backend's entries are watched (conntrack's CLOSE lasts 10 s; the stop grace is 10 s). */
export const CONNTRACK_WATCH_MS = 60_000;
/** Between two sweeps of the watched backends' entries. */
export const CONNTRACK_SWEEP_MS = 1000;

/**
 * TCP states that hold no live connection and that a SYN on the same 5-tuple does not reopen: it would follow their
 * old DNAT binding. (CLOSE is reopened only when the reset came from the client's side; a backend's reset is the
 * common case.)
 */
export const STALE_TCP_STATES: ReadonlySet<string> = new Set(['SYN_SENT', 'SYN_RECV', 'LAST_ACK', 'CLOSE']);
/**
 * States of a handshake or close still under way when the backend has just left (it is alive during the drain hold):
 * dropping one then would make the client's next packet (the handshake's ACK) a new flow balanced to another
 * backend, which resets it. They are dropped only from `HANDSHAKE_GRACE_MS` after the removal: by then a live
 * backend has long answered, so one still there is stuck (the backend is gone) or a reused 5-tuple.
 */
export const IN_PROGRESS_TCP_STATES: ReadonlySet<string> = new Set(['SYN_SENT', 'SYN_RECV', 'LAST_ACK']);
export const HANDSHAKE_GRACE_MS = 1000;

/** A backend that left a kernel-forwarded port's map, and since when. */
export interface RemovedBackend {
  protocol: MeshProtocol;
  /** The published port (the original destination port of the flows to drop). */
  port: number;
  host: string;
  backendPort: number;
  removedAt: number;
}

/** One line of `conntrack -L`: the original tuple (client → published port) and the reply source (the backend). */
export interface ConntrackEntry {
  protocol: MeshProtocol;
  /** TCP state (`ESTABLISHED`, `TIME_WAIT`, …); undefined for UDP. */
  state?: string;
  origSrc: string;
  origDst: string;
  origSport: number;
  origDport: number;
  replySrc: string;
  replySport: number;
}

const key = (r: { protocol: MeshProtocol; port: number; host: string; backendPort: number }): string => `${r.protocol}/${r.port}>${r.host}:${r.backendPort}`;

/**
 * The watch list after a map change: backends in a port's previous map that are in no map of that port now join it
 * (at `now`); a backend back in its port's map leaves it; entries older than `CONNTRACK_WATCH_MS` are forgotten.
 * A port leaving the kernel for the user-space listener with its backends still in `stillPublished` (e.g. a PROXY
 * setting) is not a removal: its flows' backends are alive.
 */
export function watchRemoved(
  watched: readonly RemovedBackend[],
  prev: readonly KernelPort[],
  next: readonly KernelPort[],
  stillPublished: ReadonlySet<string>,
  now: number,
): RemovedBackend[] {
  const inNext = new Set(next.flatMap((p) => p.backends.map((b) => key({ protocol: p.protocol, port: p.port, host: b.host, backendPort: b.port }))));
  const out = new Map<string, RemovedBackend>();
  for (const r of watched) if (now - r.removedAt < CONNTRACK_WATCH_MS && !inNext.has(key(r))) out.set(key(r), r);
  for (const p of prev) {
    for (const b of p.backends) {
      const r: RemovedBackend = { protocol: p.protocol, port: p.port, host: b.host, backendPort: b.port, removedAt: now };
      const k = key(r);
      if (inNext.has(k) || out.has(k) || stillPublished.has(k)) continue;
      out.set(k, r);
    }
  }
  return [...out.values()];
}

/** The watch list without the backends watched for `CONNTRACK_WATCH_MS` already (between map changes). */
export function stillWatched(watched: readonly RemovedBackend[], now: number): RemovedBackend[] {
  return watched.filter((r) => now - r.removedAt < CONNTRACK_WATCH_MS);
}

/** The key `watchRemoved` matches `stillPublished` against, for one backend of one published port. */
export const publishedBackendKey = (protocol: MeshProtocol, port: number, b: { host: string; port: number }): string => key({ protocol, port, host: b.host, backendPort: b.port });

/** Parses `conntrack -L` lines (IPv4 TCP/UDP); anything else is skipped. */
export function parseConntrack(text: string): ConntrackEntry[] {
  const out: ConntrackEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(tcp|udp)\s+\d+\s+\d+\s+(?:([A-Z_]+)\s+)?(.*)$/.exec(line.trim());
    if (!m) continue;
    const fields = [...m[3]!.matchAll(/(src|dst|sport|dport)=(\S+)/g)].map((x) => [x[1]!, x[2]!] as const);
    // the original tuple comes first, the reply tuple second
    const orig = new Map(fields.slice(0, 4));
    const reply = new Map(fields.slice(4, 8));
    if (orig.size !== 4 || reply.size !== 4) continue;
    out.push({
      protocol: m[1] as MeshProtocol,
      ...(m[1] === 'tcp' && m[2] ? { state: m[2] } : {}),
      origSrc: orig.get('src')!,
      origDst: orig.get('dst')!,
      origSport: Number(orig.get('sport')),
      origDport: Number(orig.get('dport')),
      replySrc: reply.get('src')!,
      replySport: Number(reply.get('sport')),
    });
  }
  return out;
}

/** True when the entry is a flow through `r`'s published port that `r` answers and that may be dropped at `now`. */
export function dropsEntry(r: RemovedBackend, e: ConntrackEntry, now: number): boolean {
  if (e.protocol !== r.protocol || e.origDport !== r.port || e.replySrc !== r.host || e.replySport !== r.backendPort) return false;
  if (e.protocol === 'udp') return true;
  if (e.state === undefined || !STALE_TCP_STATES.has(e.state)) return false;
  return !IN_PROGRESS_TCP_STATES.has(e.state) || now - r.removedAt >= HANDSHAKE_GRACE_MS;
}

/**
 * The `conntrack -D` argument lists that drop what `entries` (this sweep's listing) shows of the watched backends:
 * one per (backend, TCP state) present, or one per backend for UDP; none when nothing is to be dropped. Filters, not
 * exact tuples, so one run drops every entry of a kind (an entry that changes state meanwhile is left for the next
 * sweep).
 */
export function conntrackDeletes(watched: readonly RemovedBackend[], entries: readonly ConntrackEntry[], now: number): string[][] {
  const out = new Map<string, string[]>();
  for (const r of watched) {
    for (const e of entries) {
      if (!dropsEntry(r, e, now)) continue;
      const args = ['-D', '-p', r.protocol, '--orig-port-dst', String(r.port), '--reply-src', r.host, '--reply-port-src', String(r.backendPort)];
      if (e.protocol === 'tcp') args.push('--state', e.state!);
      out.set(args.join(' '), args);
    }
  }
  return [...out.values()];
}

/** The protocols whose entries a sweep must list (none: no sweep). */
export function sweepProtocols(watched: readonly RemovedBackend[]): MeshProtocol[] {
  return (['tcp', 'udp'] as const).filter((p) => watched.some((r) => r.protocol === p));
}
