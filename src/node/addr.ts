import os from 'node:os';
import { invalidArgument } from '../lib/errors';

/** Splits "IP[:PORT]" (or an interface name) into host and port, as `swarm init --advertise-addr` takes it. */
export function parseAddr(addr: string, defaultPort: number): { host: string; port: number } {
  const ifaces = os.networkInterfaces();
  let host = addr;
  let port = defaultPort;
  const m = /^(.*):(\d+)$/.exec(addr);
  if (m && !addr.includes('::')) {
    host = m[1]!;
    port = Number(m[2]);
  }
  const iface = ifaces[host];
  if (iface) {
    const v4 = iface.find((i) => i.family === 'IPv4');
    if (!v4) throw invalidArgument(`interface ${host} has no IPv4 address`);
    host = v4.address;
  }
  if (!host) throw invalidArgument(`invalid address: ${addr}`);
  return { host, port };
}

/**
 * Picks the address to advertise when none was given: the configured default, else the only
 * non-loopback IPv4 address. Docker's error text when there are several.
 */
export function detectAdvertiseAddr(fallback?: string): string {
  if (fallback) return fallback;
  const addrs: { name: string; address: string }[] = [];
  for (const [name, list] of Object.entries(os.networkInterfaces())) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) addrs.push({ name, address: i.address });
  }
  if (addrs.length === 1) return addrs[0]!.address;
  if (addrs.length === 0) return '127.0.0.1';
  throw invalidArgument(
    `could not choose an IP address to advertise since this system has multiple addresses on different interfaces (${addrs
      .map((a) => `${a.address} on ${a.name}`)
      .join(' and ')})`,
  );
}

/** Where a node listens for, and is reached by, other swarm nodes. */
export interface SwarmAddrs {
  /** host:port */
  listenAddr: string;
  /** host:port */
  advertiseAddr: string;
  /** The advertised host alone (a Node's Status.Addr). */
  advertiseHost: string;
}

/**
 * The addresses `swarm init` and `swarm join` settle on. As dockerd: the listen address defaults to
 * 0.0.0.0:2377, and an advertise address without a port takes the listen port.
 */
export function swarmAddrs(req: { ListenAddr?: string; AdvertiseAddr?: string }, defaultAdvertiseAddr?: string): SwarmAddrs {
  const listen = parseAddr(req.ListenAddr || '0.0.0.0:2377', 2377);
  const adv = parseAddr(req.AdvertiseAddr || detectAdvertiseAddr(defaultAdvertiseAddr), listen.port);
  return { listenAddr: `${listen.host}:${listen.port}`, advertiseAddr: `${adv.host}:${adv.port}`, advertiseHost: adv.host };
}

/** The host part of a "host:port" address. */
export function hostOf(addr: string): string {
  return addr.split(':')[0]!;
}

/** Whether `name` is one of this host's network interfaces (`--advertise-addr eth0`). */
export const isInterfaceName = (name: string): boolean => Object.prototype.hasOwnProperty.call(os.networkInterfaces(), name);
