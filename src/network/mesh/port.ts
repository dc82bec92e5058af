// What the TCP and UDP listeners of one published port share: its balancer, its counters, its options.
import type { Clock, Rng } from '../../lib/ports';
import { Balancer } from './core/balancer';
import type { PublishedPortTable } from './core/types';

/** pino-compatible subset the mesh logs through. */
export interface MeshLogger {
  debug(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
}

/** Per published port, since its listener opened: what the metrics endpoint will export. */
export interface MeshCounters {
  /** TCP connections (UDP flows) open now. */
  active: number;
  /** TCP connections (UDP flows) accepted. */
  total: number;
  /** Bytes from clients (TCP: counted when a connection ends). */
  bytesIn: number;
  /** Bytes to clients (TCP: counted when a connection ends). */
  bytesOut: number;
  udpDatagramsIn: number;
  udpDatagramsOut: number;
  /** Connection attempts to a backend that failed (refused, unreachable, timed out). */
  failedConnects: number;
  /** Clients turned away because no ready backend was left to try. */
  noBackend: number;
}

export const newCounters = (): MeshCounters => ({ active: 0, total: 0, bytesIn: 0, bytesOut: 0, udpDatagramsIn: 0, udpDatagramsOut: 0, failedConnects: 0, noBackend: 0 });

export interface PortOptions {
  bindHost: string;
  logger: MeshLogger;
  clock: Clock;
  rng?: Pick<Rng, 'next'>;
  connectTimeoutMs: number;
  maxConnectAttempts: number;
  udpIdleMs: number;
  udpMaxFlows: number;
}

/** One published port's listener: TCP (`TcpPort`) or UDP (`UdpPort`). */
export abstract class MeshPort {
  readonly counters = newCounters();
  protected readonly balancer: Balancer;

  constructor(
    protected table: PublishedPortTable,
    protected readonly opts: PortOptions,
  ) {
    this.balancer = new Balancer({ rng: opts.rng });
    this.balancer.setBackends(table.backends);
  }

  /** New backends and PROXY setting for new connections; connections already made keep their backend. */
  update(table: PublishedPortTable): void {
    this.table = table;
    const { added, removed } = this.balancer.setBackends(table.backends);
    this.opts.logger.debug({ port: table.port, protocol: table.protocol, added, removed }, 'mesh backends changed');
  }

  /** Open connections (flows) by backend ID, removed backends included until their last one ends. */
  activeByBackend(): ReadonlyMap<string, number> {
    return this.balancer.activeCounts();
  }

  backendCount(): number {
    return this.balancer.list().length;
  }

  abstract listen(): Promise<void>;
  abstract close(): Promise<void>;
}
