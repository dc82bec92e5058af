// IPv4 address management for swarm networks: subnets from the cluster's address pools, and addresses
// inside a subnet. Pure: the allocator's state is rebuilt from the store by replaying what is taken.

export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  bits: number;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIp(s: string): number | undefined {
  const m = IPV4_RE.exec(s);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    v = v * 256 + o;
  }
  return v;
}

export function formatIp(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

const size = (bits: number) => 2 ** (32 - bits);

/** `10.0.0.0/24` → its network address and prefix length; undefined when malformed or not a network address. */
export function parseCidr(s: string, opts: { strict?: boolean } = {}): Cidr | undefined {
  const [ip, len, ...rest] = s.split('/');
  if (rest.length || len === undefined || !/^\d{1,2}$/.test(len)) return undefined;
  const bits = Number(len);
  const v = parseIp(ip ?? '');
  if (v === undefined || bits > 32) return undefined;
  const base = v - (v % size(bits));
  if (opts.strict && base !== v) return undefined;
  return { base, bits };
}

export const formatCidr = (c: Cidr): string => `${formatIp(c.base)}/${c.bits}`;

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b.bits) && b.base < a.base + size(a.bits);
}

export function contains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + size(c.bits);
}

/**
 * Subnets for networks that name none: the first free `maskLength` block of the pools, in order,
 * that overlaps no subnet already taken (Docker's default pool is 10.0.0.0/8 in /24s).
 */
export function nextSubnet(pools: Cidr[], maskLength: number, taken: Cidr[]): Cidr | undefined {
  const sorted = [...taken].sort((a, b) => a.base - b.base);
  for (const pool of pools) {
    if (maskLength < pool.bits) continue;
    const step = size(maskLength);
    const end = pool.base + size(pool.bits);
    let at = pool.base;
    while (at + step <= end) {
      const cand = { base: at, bits: maskLength };
      const hit = sorted.find((t) => overlaps(t, cand));
      if (!hit) return cand;
      // Jump past the subnet in the way, aligned to the step.
      const past = hit.base + size(hit.bits);
      at = Math.max(at + step, Math.ceil(past / step) * step);
    }
  }
  return undefined;
}

/**
 * The addresses of one subnet. Handed out serially (the next free one after the last handed out,
 * wrapping), as libnetwork does for swarm networks, so that an address just released is not reused
 * at once by another task. The network address, the gateway and the broadcast address are never handed out.
 */
export class AddressBlock {
  private readonly used = new Set<number>();
  private cursor: number;
  readonly first: number;
  readonly last: number;

  constructor(
    readonly subnet: Cidr,
    readonly gateway: number,
    /** Where addresses may come from (`--ip-range`); defaults to the subnet. */
    range: Cidr = subnet,
  ) {
    this.first = Math.max(range.base, subnet.base + 1);
    this.last = Math.min(range.base + size(range.bits) - 1, subnet.base + size(subnet.bits) - 2);
    this.cursor = this.first;
  }

  get free(): number {
    return Math.max(0, this.last - this.first + 1 - this.used.size - (this.gateway >= this.first && this.gateway <= this.last ? 1 : 0));
  }

  /** Marks an address as taken (replay from the store); false when it is outside the block or taken already. */
  reserve(ip: number): boolean {
    if (!contains(this.subnet, ip) || ip === this.gateway || this.used.has(ip)) return false;
    this.used.add(ip);
    return true;
  }

  release(ip: number): void {
    this.used.delete(ip);
  }

  /** The addresses handed out, in order. */
  taken(): number[] {
    return [...this.used].sort((a, b) => a - b);
  }

  has(ip: number): boolean {
    return this.used.has(ip);
  }

  allocate(): number | undefined {
    const n = this.last - this.first + 1;
    for (let i = 0; i < n; i++) {
      const ip = this.first + ((this.cursor - this.first + i) % n);
      if (ip === this.gateway || this.used.has(ip)) continue;
      this.used.add(ip);
      this.cursor = ip + 1 > this.last ? this.first : ip + 1;
      return ip;
    }
    return undefined;
  }

  /** `10.0.0.5/24`: an address with the subnet's prefix length, as the Engine API shows task addresses. */
  cidrOf(ip: number): string {
    return `${formatIp(ip)}/${this.subnet.bits}`;
  }
}

/** "10.0.0.5/24" → "10.0.0.5" (an address without a prefix length is returned as it is). */
export function addrOfCidr(s: string): string {
  const i = s.indexOf('/');
  return i < 0 ? s : s.slice(0, i);
}

/** `10.0.0.5/24` → 10.0.0.5 as a number. */
export function ipOfCidr(s: string): number | undefined {
  return parseIp(s.split('/')[0] ?? '');
}
