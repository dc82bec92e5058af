// The routing mesh of one node (networking.md §2.1): a listener on every ingress-published port, each connection
// or UDP flow forwarded to one ready backend anywhere in the cluster. Driven only by the ingress table it is given.
import type { Clock, Rng } from '../../lib/ports';
import { diffTables } from './core/diff';
import { portKey, type MeshProtocol, type PortKey, type PublishedPortTable } from './core/types';
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
}

export interface MeshPortStatus {
  protocol: MeshProtocol;
  port: number;
  listening: boolean;
  /** Why the listener could not be opened (e.g. the port is in use); retried at the next `apply`. */
  error?: string;
  backends: number;
  counters: MeshCounters;
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
    for (const [k, p] of this.ports) {
      const t = this.tables.get(k) as PublishedPortTable;
      out.push({ protocol: t.protocol, port: t.port, listening: true, backends: p.backendCount(), counters: { ...p.counters } });
    }
    for (const { table: t, error } of this.failed.values()) {
      out.push({ protocol: t.protocol, port: t.port, listening: false, error, backends: t.backends.length, counters: newCounters() });
    }
    return out.sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
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
    await Promise.all([...this.ports.values()].map((p) => p.close()));
    this.ports.clear();
    this.tables.clear();
    this.failed.clear();
  }
}
