// PROXY protocol headers (haproxy's proxy-protocol.txt), sent to a backend before the client's bytes so that the
// task sees the real client address: Docker's mesh loses it (moby#25526). v1 is one text line, TCP only; v2 is
// binary and also describes UDP (then it starts every datagram).
import type { MeshProtocol, ProxyProtocolVersion } from './types';

export interface ProxiedAddresses {
  protocol: MeshProtocol;
  srcAddress: string;
  srcPort: number;
  dstAddress: string;
  dstPort: number;
}

/** v2's fixed 12-byte signature. */
export const V2_SIGNATURE = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);

/** An IPv4-mapped IPv6 address (what a dual-stack socket reports) as the IPv4 address it is. */
export function unmapV4(addr: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  return m ? m[1] : addr;
}

function parseV4(addr: string): number[] | undefined {
  const parts = addr.split('.');
  if (parts.length !== 4) return undefined;
  const out = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return out.every((n) => n >= 0 && n <= 255) ? out : undefined;
}

function parseV6(addr: string): number[] | undefined {
  const zone = addr.indexOf('%');
  if (zone >= 0) addr = addr.slice(0, zone);
  const halves = addr.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseV4(p);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-f]{1,4}$/i.test(p)) out.push(parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** The address family both ends share, or undefined when they differ (then the header says UNKNOWN / UNSPEC). */
function family(a: ProxiedAddresses): { v: 4 | 6; src: number[]; dst: number[] } | undefined {
  const s = unmapV4(a.srcAddress);
  const d = unmapV4(a.dstAddress);
  const s4 = parseV4(s);
  const d4 = parseV4(d);
  if (s4 && d4) return { v: 4, src: s4, dst: d4 };
  const s6 = s4 ? parseV6(`::ffff:${s}`) : parseV6(s);
  const d6 = d4 ? parseV6(`::ffff:${d}`) : parseV6(d);
  return s6 && d6 ? { v: 6, src: s6, dst: d6 } : undefined;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** The v1 line. Only TCP has a v1 form; an address pair of mixed or unknown families is sent as UNKNOWN. */
export function encodeV1(a: ProxiedAddresses): Uint8Array {
  const f = a.protocol === 'tcp' ? family(a) : undefined;
  if (!f) return ascii('PROXY UNKNOWN\r\n');
  const show = (bytes: number[], raw: string) => (f.v === 4 ? bytes.join('.') : raw.includes('.') && !raw.includes(':') ? `::ffff:${raw}` : raw);
  const src = show(f.src, unmapV4(a.srcAddress));
  const dst = show(f.dst, unmapV4(a.dstAddress));
  return ascii(`PROXY TCP${f.v} ${src} ${dst} ${a.srcPort} ${a.dstPort}\r\n`);
}

/** The v2 header: PROXY command, TCP or UDP over IPv4 or IPv6 (UNSPEC when the families cannot be told). */
export function encodeV2(a: ProxiedAddresses): Uint8Array {
  const f = family(a);
  const body = f ? [...f.src, ...f.dst, a.srcPort >> 8, a.srcPort & 0xff, a.dstPort >> 8, a.dstPort & 0xff] : [];
  const famByte = !f ? 0x00 : (f.v === 4 ? 0x10 : 0x20) | (a.protocol === 'tcp' ? 0x01 : 0x02);
  const out = new Uint8Array(16 + body.length);
  out.set(V2_SIGNATURE, 0);
  out[12] = 0x21; // version 2, PROXY
  out[13] = famByte;
  out[14] = body.length >> 8;
  out[15] = body.length & 0xff;
  out.set(body, 16);
  return out;
}

export function encodeProxyHeader(version: ProxyProtocolVersion, a: ProxiedAddresses): Uint8Array {
  return version === 'v1' ? encodeV1(a) : encodeV2(a);
}

export interface ParsedProxyHeader extends Partial<ProxiedAddresses> {
  version: 1 | 2;
  /** Header length in bytes: the payload starts there. */
  length: number;
}

function showV6(b: Uint8Array, at: number): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[at + i] << 8) | b[at + i + 1]).toString(16));
  return g.join(':');
}

/**
 * Reads a v1 or v2 header at the start of `b`: undefined while incomplete, throws on something that is not one.
 * Used by test backends and by tasks written in TypeScript; IPv6 is shown uncompressed.
 */
export function parseProxyHeader(b: Uint8Array): ParsedProxyHeader | undefined {
  if (b.length >= 1 && b[0] === 0x0d) {
    if (b.length < 16) return undefined;
    for (let i = 0; i < 12; i++) if (b[i] !== V2_SIGNATURE[i]) throw new Error('not a PROXY v2 signature');
    if (b[12] >> 4 !== 2) throw new Error(`PROXY v2: bad version ${b[12] >> 4}`);
    const len = (b[14] << 8) | b[15];
    if (b.length < 16 + len) return undefined;
    const fam = b[13] >> 4;
    const protocol: MeshProtocol | undefined = (b[13] & 0x0f) === 1 ? 'tcp' : (b[13] & 0x0f) === 2 ? 'udp' : undefined;
    const port = (at: number) => (b[at] << 8) | b[at + 1];
    if (fam === 1 && len >= 12) {
      return { version: 2, length: 16 + len, protocol, srcAddress: b.slice(16, 20).join('.'), dstAddress: b.slice(20, 24).join('.'), srcPort: port(24), dstPort: port(26) };
    }
    if (fam === 2 && len >= 36) {
      return { version: 2, length: 16 + len, protocol, srcAddress: showV6(b, 16), dstAddress: showV6(b, 32), srcPort: port(48), dstPort: port(50) };
    }
    return { version: 2, length: 16 + len };
  }
  const end = b.indexOf(0x0a);
  if (end < 0) {
    if (b.length > 107) throw new Error('PROXY v1 line longer than 107 bytes');
    return undefined;
  }
  const line = String.fromCharCode(...b.subarray(0, end));
  if (!line.startsWith('PROXY ') || !line.endsWith('\r')) throw new Error('not a PROXY v1 line');
  const f = line.slice(0, -1).split(' ');
  if (f[1] === 'UNKNOWN') return { version: 1, length: end + 1 };
  if ((f[1] !== 'TCP4' && f[1] !== 'TCP6') || f.length !== 6) throw new Error(`bad PROXY v1 line: ${line}`);
  return { version: 1, length: end + 1, protocol: 'tcp', srcAddress: f[2], dstAddress: f[3], srcPort: Number(f[4]), dstPort: Number(f[5]) };
}
