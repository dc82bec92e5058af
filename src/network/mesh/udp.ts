// UDP side of the mesh: a flow per client address, each with its own socket towards one backend, so that the
// backend's replies come back on that socket and are relayed to the client from the published port. The socket is
// not connect()ed: a backend bound to a wildcard address answers from whichever of its host's addresses the kernel
// picks, which need not be the one the mesh sent to (a connected socket would drop those replies); replies are
// taken from the backend's port.
import dgram from 'node:dgram';
import net from 'node:net';
import { encodeProxyHeader } from './core/proxy-protocol';
import type { MeshBackend } from './core/types';
import { MeshPort } from './port';

interface Flow {
  key: string;
  address: string;
  port: number;
  backend: MeshBackend;
  up: dgram.Socket;
  ready: boolean;
  /** Datagrams that arrived before the backend socket was bound (bounded). */
  queue: Buffer[];
  /** PROXY v2 header for this flow, sent before every datagram; empty when the port does not ask for it. */
  header: Buffer;
  lastSeen: number;
}

/** Datagrams held per flow while its backend socket connects; more are dropped, as the network would. */
const MAX_QUEUED = 64;

const socketType = (host: string): 'udp4' | 'udp6' => (net.isIPv6(host) ? 'udp6' : 'udp4');

export class UdpPort extends MeshPort {
  private readonly socket = dgram.createSocket({ type: socketType(this.opts.bindHost) });
  private readonly flows = new Map<string, Flow>();
  private sweeper?: NodeJS.Timeout;
  private warnedV1 = false;

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.socket.once('error', onError);
      this.socket.bind({ port: this.table.port, address: this.opts.bindHost, exclusive: true }, () => {
        this.socket.off('error', onError);
        this.socket.on('error', (err) => this.opts.logger.warn({ port: this.table.port, err: err.message }, 'mesh udp listener error'));
        this.socket.on('message', (msg, rinfo) => this.onClientDatagram(msg, rinfo));
        const every = Math.max(50, Math.min(this.opts.udpIdleMs / 2, 5000));
        this.sweeper = setInterval(() => this.sweep(this.opts.clock.now()), every);
        this.sweeper.unref();
        this.warnV1();
        resolve();
      });
    });
  }

  override update(table: Parameters<MeshPort['update']>[0]): void {
    super.update(table);
    this.warnV1();
  }

  close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const f of [...this.flows.values()]) this.closeFlow(f);
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  flowCount(): number {
    return this.flows.size;
  }

  /** Ends the flows idle for `udpIdleMs` or more at `now`: their next datagram starts a new flow (a new pick). */
  sweep(now: number): void {
    for (const f of [...this.flows.values()]) if (now - f.lastSeen >= this.opts.udpIdleMs) this.closeFlow(f);
  }

  private warnV1(): void {
    // v1 is a text line for TCP only: a UDP port asking for it is sent nothing, and said so once
    if (this.table.proxyProtocol === 'v1' && !this.warnedV1) {
      this.warnedV1 = true;
      this.opts.logger.warn({ port: this.table.port }, 'mesh: PROXY protocol v1 has no UDP form; use v2 for UDP ports');
    }
  }

  private onClientDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const c = this.counters;
    c.udpDatagramsIn++;
    c.bytesIn += msg.length;
    const key = `${rinfo.address}|${rinfo.port}`;
    const f = this.flows.get(key) ?? this.openFlow(key, rinfo);
    if (!f) return;
    f.lastSeen = this.opts.clock.now();
    const payload = f.header.length ? Buffer.concat([f.header, msg]) : msg;
    if (f.ready) f.up.send(payload, f.backend.port, f.backend.host);
    else if (f.queue.length < MAX_QUEUED) f.queue.push(payload);
  }

  private openFlow(key: string, rinfo: dgram.RemoteInfo): Flow | undefined {
    const c = this.counters;
    const b = this.balancer.pick();
    if (!b) {
      c.noBackend++;
      this.opts.logger.debug({ port: this.table.port, client: rinfo.address }, 'mesh: no ready backend, datagram dropped');
      return undefined;
    }
    if (this.flows.size >= this.opts.udpMaxFlows) {
      // the table is bounded: the oldest flow (Map order is creation order) makes room
      const oldest = this.flows.values().next().value;
      if (oldest) this.closeFlow(oldest);
    }
    this.balancer.acquire(b.id);
    c.total++;
    c.active++;
    const local = this.socket.address();
    const header =
      this.table.proxyProtocol === 'v2'
        ? Buffer.from(encodeProxyHeader('v2', { protocol: 'udp', srcAddress: rinfo.address, srcPort: rinfo.port, dstAddress: local.address, dstPort: local.port }))
        : Buffer.alloc(0);
    const up = dgram.createSocket({ type: socketType(b.host) });
    const f: Flow = { key, address: rinfo.address, port: rinfo.port, backend: b, up, ready: false, queue: [], header, lastSeen: this.opts.clock.now() };
    this.flows.set(key, f);
    up.on('message', (reply, from) => {
      if (from.port !== b.port) return; // not the backend's socket
      c.udpDatagramsOut++;
      c.bytesOut += reply.length;
      f.lastSeen = this.opts.clock.now();
      this.socket.send(reply, f.port, f.address);
    });
    up.on('error', (err) => {
      // a send that fails (no route, socket closed): the flow ends, the next datagram picks again
      c.failedConnects++;
      this.opts.logger.debug({ port: this.table.port, backend: b.id, err: err.message }, 'mesh: udp backend error');
      this.closeFlow(f);
    });
    up.bind(0, () => {
      f.ready = true;
      for (const q of f.queue) up.send(q, b.port, b.host);
      f.queue.length = 0;
    });
    return f;
  }

  private closeFlow(f: Flow): void {
    if (this.flows.get(f.key) !== f) return;
    this.flows.delete(f.key);
    this.counters.active--;
    this.balancer.release(f.backend.id);
    try {
      f.up.close();
    } catch {
      // already closed by an error
    }
  }
}
