// TCP side of the mesh: accept on the published port, connect to a backend the balancer picks, splice both ways.
import net from 'node:net';
import { encodeProxyHeader } from './core/proxy-protocol';
import type { MeshBackend } from './core/types';
import { MeshPort } from './port';

export class TcpPort extends MeshPort {
  private readonly server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (c) => this.accept(c));
  private readonly clients = new Set<net.Socket>();

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen({ port: this.table.port, host: this.opts.bindHost, exclusive: true }, () => {
        this.server.off('error', onError);
        // after listening, errors are per connection (handled there); keep one so the process does not crash
        this.server.on('error', (err) => this.opts.logger.warn({ port: this.table.port, err: err.message }, 'mesh listener error'));
        resolve();
      });
    });
  }

  /** Stops listening and ends the port's open connections: the port is no longer published. */
  close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    const c = this.counters;
    c.total++;
    c.active++;
    this.clients.add(client);
    const tried = new Set<string>();
    let up: net.Socket | undefined;
    let connected = false;
    let clientFailed = false;
    client.on('error', () => {
      clientFailed = true;
    });
    client.once('close', () => {
      c.active--;
      c.bytesIn += client.bytesRead;
      c.bytesOut += client.bytesWritten;
      this.clients.delete(client);
      // a clean close was already passed on by pipe() as a FIN; an abort is passed on as an abort
      if (up && !connected) up.destroy();
      else if (up && clientFailed) up.resetAndDestroy();
    });

    const attempt = (): void => {
      if (client.destroyed) return;
      const b = tried.size < this.opts.maxConnectAttempts ? this.balancer.pick(tried) : undefined;
      if (!b) {
        c.noBackend++;
        this.opts.logger.debug({ port: this.table.port, client: client.remoteAddress, tried: [...tried] }, 'mesh: no ready backend, connection closed');
        client.resetAndDestroy();
        return;
      }
      up = this.connect(client, b, (ok) => {
        if (ok) connected = true;
        else if (!client.destroyed) {
          c.failedConnects++;
          tried.add(b.id);
          attempt();
        }
      });
    };
    attempt();
  }

  /** One connection attempt to `b`; `done(false)` when it could not be made, after which `client` is untouched. */
  private connect(client: net.Socket, b: MeshBackend, done: (ok: boolean) => void): net.Socket {
    this.balancer.acquire(b.id);
    const proxy = this.table.proxyProtocol;
    const up = net.connect({ host: b.host, port: b.port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => up.destroy(new Error('connect timeout')), this.opts.connectTimeoutMs);
    let connected = false;
    let failed = false;
    up.once('connect', () => {
      clearTimeout(timer);
      connected = true;
      if (client.destroyed) {
        up.destroy();
        return;
      }
      if (proxy) {
        const addrs = { protocol: 'tcp' as const, srcAddress: client.remoteAddress ?? '', srcPort: client.remotePort ?? 0, dstAddress: client.localAddress ?? '', dstPort: client.localPort ?? 0 };
        up.write(encodeProxyHeader(proxy, addrs));
      }
      // pipe() gives backpressure both ways and passes a FIN on with end(); allowHalfOpen keeps the other way open
      client.pipe(up);
      up.pipe(client);
      done(true);
    });
    up.on('error', (err) => {
      failed = true;
      if (!connected) this.opts.logger.debug({ port: this.table.port, backend: b.id, err: err.message }, 'mesh: backend connect failed');
    });
    up.once('close', () => {
      clearTimeout(timer);
      this.balancer.release(b.id);
      if (!connected) done(false);
      else if (failed && !client.destroyed) client.resetAndDestroy();
    });
    return up;
  }
}
