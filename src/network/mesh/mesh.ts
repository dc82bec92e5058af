// The routing mesh of one node (networking.md §2.1): a listener on every ingress-published port, each connection
// or UDP flow forwarded to one ready backend anywhere in the cluster. Driven only by the ingress table it is given.
import type { Clock, Rng } from '../../lib/ports';
import { diffTables } from './core/diff';
import { kernelTableName, type KernelPortCounters } from './core/nft';
import { portKey, type MeshProtocol, type PortKey, type PublishedPortTable } from './core/types';
import { KernelPath } from './kernel';
import { newCounters, type MeshCounters, type MeshLogger, type MeshPort, type PortOptions } from './port';
import { TcpPort } from './tcp';
import { UdpPort } from './udp';

export interface RoutingMeshOptions {
  /** Address the listeners bind (default 0.0.0.0: every address of the node). */
  bindHost?: string;
  logger?: MeshLogger;
  /** Clock for UDP flow idleness (default the wall clock). */
  clock?: Clock;
  /** Break balancer ties at random instead of round robin. */
  rng?: Pick<Rng, 'next'>;
  /** A backend that has not accepted within this is skipped for the next one (default 2000 ms). */
  connectTimeoutMs?: number;
  /** Backends one TCP connection tries before it is closed (default 3). */
  maxConnectAttempts?: number;
  /** A UDP flow with no datagram either way for this long ends (default 30 s). */
  udpIdleMs?: number;
  /** UDP flows per port; the oldest makes room for a new one (default 4096). */
  udpMaxFlows?: number;
  /**
   * Forward the ports that allow it in the kernel (nftables DNAT in this network namespace; mesh.md "Kernel path").
   * Default true: it falls back to the user-space proxy by itself (logged once) without root, nft or nf_tables.
   */
  kernel?: boolean;
  /** The nft program of the kernel path (default `nft`). */
  nftPath?: string;
  /** The nftables table of the kernel path (default `shoal-mesh`, or `shoal-mesh-<address>` when bound to one: `kernelTableName`). */
  kernelTable?: string;
  /** Between connect probes of a new TCP backend before the kernel path admits it (default 200 ms). */
  kernelProbeIntervalMs?: number;
  /** The conntrack program that drops the stale flows of a backend that left the kernel path (default `conntrack`). */
  conntrackPath?: string;
}

export interface MeshPortStatus {
  protocol: MeshProtocol;
  port: number;
  listening: boolean;
  /** Why the listener could not be opened (e.g. the port is in use); retried at the next `apply`. */
  error?: string;
  backends: number;
  /** Which path carries connections from other hosts now: nftables (`kernel`) or the user-space listener. */
  path: 'kernel' | 'user';
  /** What the user-space listener carried (always the path for loopback clients and PROXY ports). */
  counters: MeshCounters;
  /**
   * What the kernel path carried, from nft counters (`readStatus()` only): `total` = connections (flows) DNATed,
   * bytes are IP bytes (headers included), datagrams are UDP packets; `active` is not tracked in the kernel (0).
   */
  kernel?: MeshCounters;
}

const silent: MeshLogger = { debug() {}, warn() {} };

export class RoutingMesh {
  private readonly opts: PortOptions;
  /** Tables of the ports that have a listener. */
  private readonly tables = new Map<PortKey, PublishedPortTable>();
  private readonly ports = new Map<PortKey, MeshPort>();
  /** Ports wanted whose listener could not be opened, with why. */
  private readonly failed = new Map<PortKey, { table: PublishedPortTable; error: string }>();
  /** `apply` calls run one after the other, each against the state the previous one left. */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly kernel?: KernelPath;

  constructor(opts: RoutingMeshOptions = {}) {
    this.opts = {
      bindHost: opts.bindHost ?? '0.0.0.0',
      logger: opts.logger ?? silent,
      clock: opts.clock ?? { now: () => Date.now() },
      rng: opts.rng,
      connectTimeoutMs: opts.connectTimeoutMs ?? 2000,
      maxConnectAttempts: opts.maxConnectAttempts ?? 3,
      udpIdleMs: opts.udpIdleMs ?? 30_000,
      udpMaxFlows: opts.udpMaxFlows ?? 4096,
    };
    if (opts.kernel !== false) {
      this.kernel = new KernelPath({
        nftPath: opts.nftPath ?? 'nft',
        table: opts.kernelTable ?? kernelTableName(this.opts.bindHost),
        bindHost: this.opts.bindHost,
        logger: this.opts.logger,
        ...(opts.kernelProbeIntervalMs !== undefined ? { probeIntervalMs: opts.kernelProbeIntervalMs } : {}),
        ...(opts.conntrackPath !== undefined ? { conntrackPath: opts.conntrackPath } : {}),
      });
    }
  }

  /**
   * Make the listeners and backends match `tables` (the whole ingress table of the node). Idempotent. A port that
   * cannot be opened is reported by `status()` and does not stop the others.
   */
  apply(tables: readonly PublishedPortTable[]): Promise<void> {
    const run = this.chain.then(() => this.applyNow(tables));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async applyNow(tables: readonly PublishedPortTable[]): Promise<void> {
    if (this.closed) throw new Error('routing mesh is closed');
    const diff = diffTables(this.tables, tables);
    // every wanted port without a listener is in diff.open, failed ones included: they are tried again
    this.failed.clear();
    await Promise.all(
      diff.close.map(async (k) => {
        const p = this.ports.get(k);
        this.ports.delete(k);
        this.tables.delete(k);
        await p?.close();
      }),
    );
    for (const t of diff.update) {
      this.ports.get(portKey(t))?.update(t);
      this.tables.set(portKey(t), t);
    }
    await Promise.all(diff.open.map((t) => this.open(t)));
    // the listeners first: they hold the port (one in use by another program is not taken over by the kernel
    // either) and serve loopback clients; then the kernel takes over what it can
    await this.kernel?.setTables([...this.tables.values()]);
  }

  private async open(t: PublishedPortTable): Promise<void> {
    const k = portKey(t);
    const p = t.protocol === 'tcp' ? new TcpPort(t, this.opts) : new UdpPort(t, this.opts);
    try {
      await p.listen();
      this.ports.set(k, p);
      this.tables.set(k, t);
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.failed.set(k, { table: t, error });
      this.opts.logger.warn({ port: t.port, protocol: t.protocol, err: error }, 'mesh: cannot listen on published port');
      await p.close().catch(() => undefined);
    }
  }

  status(): MeshPortStatus[] {
    const out: MeshPortStatus[] = [];
    const inKernel = this.kernel?.ports() ?? new Set<PortKey>();
    const path = (k: PortKey) => (inKernel.has(k) ? ('kernel' as const) : ('user' as const));
    for (const [k, p] of this.ports) {
      const t = this.tables.get(k) as PublishedPortTable;
      out.push({ protocol: t.protocol, port: t.port, listening: true, backends: p.backendCount(), path: path(k), counters: { ...p.counters } });
    }
    for (const [k, { table: t, error }] of this.failed) {
      out.push({ protocol: t.protocol, port: t.port, listening: false, error, backends: t.backends.length, path: path(k), counters: newCounters() });
    }
    return out.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
  }

  /** `status()` with the kernel path's counters of every port it has carried (read from nft). */
  async readStatus(): Promise<MeshPortStatus[]> {
    const kc = (await this.kernel?.counters()) ?? new Map<PortKey, KernelPortCounters>();
    return this.status().map((s) => {
      const c = kc.get(portKey(s));
      return c ? { ...s, kernel: kernelCounters(s.protocol, c) } : s;
    });
  }

  /** False once the kernel path fell back to user space for good (no root, no nft, no nf_tables) or was turned off. */
  kernelAvailable(): boolean {
    return this.kernel?.available ?? false;
  }

  /** Open connections (flows) per backend ID on one port, removed backends included until their last one ends. */
  activeByBackend(protocol: MeshProtocol, port: number): ReadonlyMap<string, number> {
    return new Map(this.ports.get(portKey({ protocol, port }))?.activeByBackend() ?? []);
  }

  /** Ends idle UDP flows now (the ports also do it on a timer); for tests with an injected clock. */
  sweepUdpFlows(): void {
    for (const p of this.ports.values()) if (p instanceof UdpPort) p.sweep(this.opts.clock.now());
  }

  udpFlowCount(port: number): number {
    const p = this.ports.get(portKey({ protocol: 'udp', port }));
    return p instanceof UdpPort ? p.flowCount() : 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    await this.kernel?.close();
    await Promise.all([...this.ports.values()].map((p) => p.close()));
    this.ports.clear();
    this.tables.clear();
    this.failed.clear();
  }
}

function kernelCounters(protocol: MeshProtocol, c: KernelPortCounters): MeshCounters {
  const udp = protocol === 'udp';
  return { ...newCounters(), total: c.conns, bytesIn: c.bytesIn, bytesOut: c.bytesOut, udpDatagramsIn: udp ? c.packetsIn : 0, udpDatagramsOut: udp ? c.packetsOut : 0 };
}
