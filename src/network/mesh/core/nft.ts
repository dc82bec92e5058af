// The routing mesh's kernel data path (mesh.md "Kernel path"): which published ports the kernel forwards, and the
// nftables rule set that does it. Pure: the table, the node's addresses and what the I/O side has learned (which
// backends answered a connect, whether forwarding is allowed) come in; rule set text and counters come out.
import { portKey, type MeshBackend, type MeshProtocol, type PortKey, type PublishedPortTable } from './types';

/** The nftables table the mesh owns in the daemon's network namespace (`nft list table ip shoal-mesh`). */
export const KERNEL_TABLE = 'shoal-mesh';

/**
 * The table of a mesh listening on `bindHost`: `shoal-mesh` for every address (one daemon per namespace, as in
 * production), `shoal-mesh-127-0-0-5` for a daemon bound to one address. Daemons sharing a namespace each bind their
 * own address (`--mesh-listen-addr`), so each owns its own table, and a restarted daemon finds its leftover one.
 */
export function kernelTableName(bindHost: string): string {
  return bindHost === '0.0.0.0' ? KERNEL_TABLE : `${KERNEL_TABLE}-${bindHost.replace(/[^A-Za-z0-9]/g, '-')}`;
}

/** A backend's identity for admission: the same task at another address is another backend. */
export const backendKey = (b: MeshBackend): string => `${b.id}@${b.host}:${b.port}`;

/** A published port the kernel forwards, and the backends it spreads over. */
export interface KernelPort {
  protocol: MeshProtocol;
  port: number;
  backends: MeshBackend[];
}

export interface KernelFacts {
  /** Backends (by `backendKey`) that accepted a connection from this node; UDP backends need none. */
  admitted: ReadonlySet<string>;
  /** This node's own IPv4 addresses: a backend there is reached without forwarding. */
  localAddrs: ReadonlySet<string>;
  /** False when packets to other hosts cannot be forwarded (another table's forward chain drops them). */
  forwardOk: boolean;
}

const isLoopback = (host: string): boolean => host.startsWith('127.') || host === 'localhost';
const isIPv4 = (host: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(host);

/**
 * The ports the kernel forwards; every other published port stays with the user-space listener, which is always
 * open: a port that asks for a PROXY header (the kernel cannot write one); a port with a backend on a loopback or
 * non-IPv4 address (DNAT from outside to loopback is martian); a port whose backends need forwarding when it is not
 * allowed; and a TCP port none of whose backends has accepted a connection yet (new tasks that do not listen yet
 * are left to the user-space proxy, which retries the next backend on a refused connect). A TCP port goes to the
 * kernel with its admitted backends only.
 */
export function kernelPorts(tables: readonly PublishedPortTable[], facts: KernelFacts): KernelPort[] {
  const byKey = new Map<PortKey, KernelPort>();
  for (const t of tables) {
    byKey.delete(portKey(t)); // the last entry for a key wins, as in the user-space mesh
    if (!kernelEligible(t)) continue;
    if (!facts.forwardOk && t.backends.some((b) => !facts.localAddrs.has(b.host))) continue;
    const backends = t.protocol === 'udp' ? t.backends : t.backends.filter((b) => facts.admitted.has(backendKey(b)));
    if (backends.length === 0) continue;
    const sorted = [...backends].sort((a, b) => cmp(backendKey(a), backendKey(b)));
    byKey.set(portKey(t), { protocol: t.protocol, port: t.port, backends: sorted });
  }
  return [...byKey.values()].sort((a, b) => a.port - b.port || cmp(a.protocol, b.protocol));
}

/** A port the kernel could carry, whatever it learns later: no PROXY header, every backend an IPv4 non-loopback address. */
export function kernelEligible(t: PublishedPortTable): boolean {
  return !t.proxyProtocol && t.backends.every((b) => isIPv4(b.host) && !isLoopback(b.host));
}

/** True when some backend of these ports lives on another host (the node must forward packets to it). */
export function needsForwarding(ports: readonly KernelPort[], localAddrs: ReadonlySet<string>): boolean {
  return ports.some((p) => p.backends.some((b) => !localAddrs.has(b.host)));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const chainName = (p: { protocol: MeshProtocol; port: number }): string => `${p.protocol}_${p.port}`;
/** Named counters per port: new connections (flows), packets/bytes from clients, packets/bytes to clients. */
export const counterNames = (p: { protocol: MeshProtocol; port: number }) => ({ conns: `${chainName(p)}_conns`, in: `${chainName(p)}_in`, out: `${chainName(p)}_out` });

function dnat(p: KernelPort): string {
  const b = p.backends;
  if (b.length === 1) return `dnat ip to ${b[0]!.host}:${b[0]!.port}`;
  // a random pick per new connection (flow); conntrack keeps each one on its backend for its life
  return `dnat ip to numgen random mod ${b.length} map { ${b.map((x, i) => `${i} : ${x.host} . ${x.port}`).join(', ')} }`;
}

/** The one rule of a port's chain: count the new connection, DNAT it to a backend. */
const portRule = (p: KernelPort): string => `meta l4proto ${p.protocol} counter name "${counterNames(p).conns}" ${dnat(p)}`;

/** Which packets are "to a published port of this node": all local addresses, or the one the mesh listens on. */
function destMatch(bindHost: string): string {
  return bindHost === '0.0.0.0' ? 'fib daddr type local' : `ip daddr ${bindHost}`;
}

/**
 * The whole `ip shoal-mesh` table for `ports`, as one `nft -f` transaction that replaces what was there (the
 * `table {}` + `delete table` pair makes the delete valid when the table is absent). Per port: DNAT of new connections
 * arriving for this node (prerouting: from other hosts and from containers; output: from the node itself to one of its
 * non-loopback addresses; loopback stays with the user-space listener), masquerade of those leaving towards another
 * host so replies come back through this node, and counters of connections, packets and bytes each way.
 * The kernel tracks connections in a namespace only while some rule needs conntrack, and a flow NATed earlier is
 * translated only while they are tracked: a table whose last `dnat`/`masquerade` went (the last port moved to the
 * user-space listener: a rolling update whose new backend was not admitted yet), or its deletion, turned conntrack
 * off and reset or stalled every connection still on an old backend (mesh.md "Kernel path"). So the table always
 * holds a `ct` rule (`KEEP_CONNTRACK`), and stays, with no port, until `meshRemoval` (daemon stop, swarm leave).
 */
export function meshRuleset(ports: readonly KernelPort[], opts: { table?: string; bindHost?: string } = {}): string {
  const table = opts.table ?? KERNEL_TABLE;
  const head = meshRemoval(table).trimEnd().split('\n');
  const dest = destMatch(opts.bindHost ?? '0.0.0.0');
  const vmap = `meta l4proto . th dport vmap { ${ports.map((p) => `${p.protocol} . ${p.port} : jump ${chainName(p)}`).join(', ')} }`;
  const dnat = (pre: string): string[] => (ports.length ? [`    ${pre}${dest} ${vmap}`] : []);
  const byProto = (proto: MeshProtocol) => ports.filter((p) => p.protocol === proto);
  const masq: string[] = [];
  const counted = (dir: 'original' | 'reply', pre = ''): string[] =>
    (['tcp', 'udp'] as const)
      .filter((proto) => byProto(proto).length > 0)
      .map((proto) => `    ${pre}ct status dnat ct direction ${dir} meta l4proto ${proto} counter name ct original proto-dst map { ${byProto(proto).map((p) => `${p.port} : "${counterNames(p)[dir === 'original' ? 'in' : 'out']}"`).join(', ')} }`);
  for (const proto of ['tcp', 'udp'] as const) {
    const list = byProto(proto);
    if (list.length) masq.push(`    oifname != "lo" ct status dnat meta l4proto ${proto} ct original proto-dst { ${list.map((p) => p.port).join(', ')} } masquerade`);
  }
  const lines = [...head, `table ip ${table} {`];
  for (const p of ports) {
    const c = counterNames(p);
    lines.push(`  counter ${c.conns} {}`, `  counter ${c.in} {}`, `  counter ${c.out} {}`);
  }
  for (const p of ports) {
    lines.push(`  chain ${chainName(p)} {`, `    ${portRule(p)}`, '  }');
  }
  lines.push(
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    ...dnat(''),
    '  }',
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    ...dnat('ip daddr != 127.0.0.0/8 '),
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    KEEP_CONNTRACK,
    ...masq,
    '  }',
    // each packet of a mesh flow crosses one of these: forward (backend on another host), input/output (backend
    // here, or the client here); loopback is skipped on input so a flow from the node to itself counts once
    '  chain count_forward {',
    '    type filter hook forward priority filter - 1; policy accept;',
    ...counted('original'),
    ...counted('reply'),
    '  }',
    '  chain count_input {',
    '    type filter hook input priority filter - 1; policy accept;',
    ...counted('original', 'iifname != "lo" '),
    ...counted('reply', 'iifname != "lo" '),
    '  }',
    '  chain count_output {',
    '    type filter hook output priority filter - 1; policy accept;',
    ...counted('original'),
    ...counted('reply'),
    '  }',
    '}',
    '',
  );
  return lines.join('\n');
}

/**
 * A rule whose only job is its `ct` expression: while it is loaded the namespace tracks connections, so the flows
 * NATed before a change keep their translation. In a NAT chain, which only a connection's first packet crosses, it
 * costs nothing per packet.
 */
export const KEEP_CONNTRACK = '    ct state new counter comment "keeps conntrack on: flows NATed earlier stay translated"';

/** Deletes the mesh's table if it exists (one transaction, valid when it is absent). */
export function meshRemoval(table: string = KERNEL_TABLE): string {
  return `table ip ${table} {}\ndelete table ip ${table}\n`;
}

/**
 * The change from `prev` to `next` as one `nft -f` transaction that keeps the table, when only backends changed: each
 * changed port chain is flushed and refilled (atomic, like the whole replace, and the named counters keep counting).
 * Undefined when the set of ports differs (or nothing was loaded): then the whole table is replaced (`meshRuleset`).
 */
export function meshUpdate(prev: readonly KernelPort[], next: readonly KernelPort[], opts: { table?: string } = {}): string | undefined {
  const table = opts.table ?? KERNEL_TABLE;
  const ids = (ps: readonly KernelPort[]) => ps.map((p) => chainName(p)).join(' ');
  if (prev.length === 0 || ids(prev) !== ids(next)) return undefined;
  const lines: string[] = [];
  next.forEach((p, i) => {
    if (dnat(p) === dnat(prev[i]!)) return;
    lines.push(`flush chain ip ${table} ${chainName(p)}`, `add rule ip ${table} ${chainName(p)} ${portRule(p)}`);
  });
  return lines.length ? [...lines, ''].join('\n') : '';
}

/** Counters of one kernel-forwarded port, as nft reports them since its rule set was loaded. */
export interface KernelPortCounters {
  /** New connections (UDP: flows) DNATed to a backend. */
  conns: number;
  packetsIn: number;
  /** IP bytes (headers included) from clients. */
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
}

/** `nft -j list counters table ip shoal-mesh` → counters per port; unknown names are ignored. */
export function parseKernelCounters(json: string): Map<PortKey, KernelPortCounters> {
  const out = new Map<PortKey, KernelPortCounters>();
  let doc: { nftables?: { counter?: { name?: string; packets?: number; bytes?: number } }[] };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch {
    return out;
  }
  for (const item of doc.nftables ?? []) {
    const c = item.counter;
    const m = c?.name ? /^(tcp|udp)_(\d+)_(conns|in|out)$/.exec(c.name) : null;
    if (!c || !m) continue;
    const key = portKey({ protocol: m[1] as MeshProtocol, port: Number(m[2]) });
    const x = out.get(key) ?? { conns: 0, packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0 };
    const packets = c.packets ?? 0;
    const bytes = c.bytes ?? 0;
    if (m[3] === 'conns') x.conns += packets;
    else if (m[3] === 'in') {
      x.packetsIn += packets;
      x.bytesIn += bytes;
    } else {
      x.packetsOut += packets;
      x.bytesOut += bytes;
    }
    out.set(key, x);
  }
  return out;
}

/**
 * From `nft -j list chains`: a forward-hook base chain of another table whose policy is drop (Docker's iptables
 * FORWARD when it manages the namespace, a host firewall). An accept in our own table cannot override it (every base
 * chain of a hook must accept), so packets DNATed to another host would be lost: the kernel path then keeps to
 * backends on this node and leaves the others to the user-space proxy. Undefined when the listing cannot be read
 * (nft failed, or printed no JSON document): that is no evidence that nothing drops.
 */
export function forwardPolicy(json: string, ownTable = KERNEL_TABLE): { dropped?: string } | undefined {
  let doc: { nftables?: { chain?: { family?: string; table?: string; name?: string; hook?: string; policy?: string } }[] };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch {
    return undefined;
  }
  if (!Array.isArray(doc?.nftables)) return undefined;
  for (const item of doc.nftables) {
    const c = item.chain;
    if (c && c.hook === 'forward' && c.policy === 'drop' && !(c.family === 'ip' && c.table === ownTable)) return { dropped: `${c.family} ${c.table} ${c.name}` };
  }
  return {};
}
