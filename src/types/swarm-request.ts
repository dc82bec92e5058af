import { invalidArgument } from '../lib/errors';

// `swarm init` / `swarm join` request checks, with dockerd's texts (daemon/cluster/listen_addr.go and
// swarm.go). dockerd answers them after "already part of a swarm", so the membership flow calls them
// once it knows the node is free. Whether a name is a network interface is the caller's to say.

export interface SwarmAddrRequest {
  ListenAddr?: string;
  AdvertiseAddr?: string;
  DataPathAddr?: string;
  DataPathPort?: number;
  DefaultAddrPool?: string[];
  SubnetSize?: number;
  Spec?: { Name?: string };
  RemoteAddrs?: string[];
}

const BAD_LISTEN = 'listen address must be an IP address or network interface (with optional port number)';
const BAD_ADVERTISE = 'advertise address must be a non-zero IP address or network interface (with optional port number)';
const BAD_DATA_PATH = 'data path address must be a non-zero IP address or network interface (without a port number)';

function ipv4Parts(s: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

/** The 16-bit groups of an IPv6 text (with `::` and a trailing IPv4 allowed), or null. */
function ipv6Groups(s: string): number[] | null {
  if (!/^[0-9a-f:.]+$/i.test(s) || s.split('::').length > 2) return null;
  const expand = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const bits = part.split(':');
    for (let i = 0; i < bits.length; i++) {
      const b = bits[i]!;
      if (i === bits.length - 1 && b.includes('.')) {
        const v4 = ipv4Parts(b);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-f]{1,4}$/i.test(b)) out.push(parseInt(b, 16));
      else return null;
    }
    return out;
  };
  const [head, tail] = s.split('::');
  const a = expand(head!);
  const b = tail === undefined ? [] : expand(tail);
  if (!a || !b) return null;
  if (tail === undefined) return a.length === 8 ? a : null;
  if (a.length + b.length > 7) return null;
  return [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
}

/** An IP literal: 'v4', 'v6', or null; `zero` when it is the unspecified address. */
export function parseIp(s: string): { family: 'v4' | 'v6'; zero: boolean } | null {
  const v4 = ipv4Parts(s);
  if (v4) return { family: 'v4', zero: v4.every((p) => p === 0) };
  const v6 = ipv6Groups(s);
  if (v6) return { family: 'v6', zero: v6.every((g) => g === 0) };
  return null;
}

/** Go's net.SplitHostPort: `host:port` or `[v6]:port`; null when it is not one. */
export function splitHostPort(s: string): { host: string; port: string } | null {
  if (s.startsWith('[')) {
    const m = /^\[([^\]]*)\]:([^:]*)$/.exec(s);
    return m ? { host: m[1]!, port: m[2]! } : null;
  }
  const i = s.lastIndexOf(':');
  if (i < 0 || s.indexOf(':') !== i) return null;
  return { host: s.slice(0, i), port: s.slice(i + 1) };
}

const validPort = (p: string): boolean => /^\d{1,5}$/.test(p) && Number(p) <= 65535;

/** An IP (non-zero unless `zeroOk`) or the name of one of this host's interfaces. */
function ipOrInterface(host: string, zeroOk: boolean, isInterface: (name: string) => boolean): boolean {
  const ip = parseIp(host);
  if (ip) return zeroOk || !ip.zero;
  return host !== '' && isInterface(host);
}

function checkListenAddr(addr: string | undefined, isInterface: (name: string) => boolean): void {
  // dockerd fills a missing host or port from 0.0.0.0:2377 before parsing.
  if (!addr) return;
  const hp = splitHostPort(addr) ?? (addr.includes(':') && !addr.startsWith('[') && addr.indexOf(':') !== addr.lastIndexOf(':') ? null : { host: addr, port: '2377' });
  if (!hp || (hp.port !== '' && !validPort(hp.port))) throw invalidArgument(`could not parse listen address ${addr}`);
  if (hp.host === '') return;
  if (!ipOrInterface(hp.host, true, isInterface)) throw invalidArgument(BAD_LISTEN);
}

function checkAdvertiseAddr(addr: string | undefined, isInterface: (name: string) => boolean): void {
  if (!addr) return;
  const hp = splitHostPort(addr);
  const host = hp ? hp.host : addr;
  if (hp && hp.port !== '' && !validPort(hp.port)) throw invalidArgument(BAD_ADVERTISE);
  if (!ipOrInterface(host, false, isInterface)) throw invalidArgument(BAD_ADVERTISE);
}

function checkDataPathAddr(addr: string | undefined, isInterface: (name: string) => boolean): void {
  if (!addr) return;
  if (!ipOrInterface(addr, false, isInterface)) throw invalidArgument(BAD_DATA_PATH);
}

function parseCidr(s: string): { bits: number } | null {
  const m = /^(.+)\/(\d{1,3})$/.exec(s);
  if (!m) return null;
  const ip = parseIp(m[1]!);
  const bits = Number(m[2]);
  if (!ip || bits > (ip.family === 'v4' ? 32 : 128)) return null;
  return { bits };
}

/** `POST /swarm/init` once the node is known to be in no swarm. */
export function validateInitRequest(req: SwarmAddrRequest, isInterface: (name: string) => boolean): void {
  checkListenAddr(req.ListenAddr, isInterface);
  checkAdvertiseAddr(req.AdvertiseAddr, isInterface);
  checkDataPathAddr(req.DataPathAddr, isInterface);
  if (req.Spec?.Name && req.Spec.Name !== 'default') throw invalidArgument('swarm spec must be named "default"');
  const port = req.DataPathPort ?? 0;
  if (port !== 0 && (port < 1024 || port > 49151)) throw invalidArgument(`Datapath port number is not in valid range (1024-49151) : ${port}`);
  if (req.DefaultAddrPool && req.DefaultAddrPool.length > 0) {
    const size = req.SubnetSize || 24;
    if (size > 29) throw invalidArgument(`subnet size is out of range: ${size}`);
    for (const p of req.DefaultAddrPool) {
      const c = parseCidr(p);
      if (!c) throw invalidArgument(`invalid CIDR address: ${p}`);
      if (size < c.bits) throw invalidArgument(`invalid CIDR: "${p}". Subnet size is too small for pool: ${size}`);
    }
  }
}

/** `POST /swarm/join` once the node is known to be in no swarm. */
export function validateJoinRequest(req: SwarmAddrRequest, isInterface: (name: string) => boolean): void {
  checkListenAddr(req.ListenAddr, isInterface);
  checkAdvertiseAddr(req.AdvertiseAddr, isInterface);
  checkDataPathAddr(req.DataPathAddr, isInterface);
  if (!req.RemoteAddrs || req.RemoteAddrs.length === 0) throw invalidArgument('at least 1 RemoteAddr is required to join');
  for (const r of req.RemoteAddrs) if (!r) throw invalidArgument(`invalid remoteAddr "${r}": invalid empty address`);
}
