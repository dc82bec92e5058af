// The node's upstream resolvers, read from resolv.conf as glibc does: `nameserver` lines in order.
// Docker's resolver tries at most three (maxExtDNS), as glibc's MAXNS.

export const MAX_UPSTREAMS = 3;

export interface Upstream {
  host: string;
  port: number;
}

/** `nameserver` entries of a resolv.conf text, at most three, port 53. */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, value] = line.split(/\s+/);
    if (key !== 'nameserver' || !value) continue;
    // A scoped IPv6 address (fe80::1%eth0) keeps its zone; Node's sockets accept it.
    out.push({ host: value, port: 53 });
    if (out.length === MAX_UPSTREAMS) break;
  }
  return out;
}

/** `host`, `host:port`, `[v6]:port` or a bare IPv6 address; port 53 when omitted. */
export function parseHostPort(s: string, defaultPort = 53): Upstream {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : defaultPort };
  const colons = s.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = s.split(':');
    const n = Number(port);
    if (!host || !Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`invalid address: ${s}`);
    return { host, port: n };
  }
  if (!s) throw new Error('invalid address: empty');
  return { host: s, port: defaultPort };
}
