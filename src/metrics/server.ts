// `--metrics-addr host:port`: the Prometheus endpoint, GET /metrics, as dockerd's. Plain HTTP: like
// dockerd's, it is meant for a loopback or otherwise private address.
import * as http from 'node:http';
import { closeHttpServer, listenTcp } from '../sys/listen';

export interface MetricsServer {
  listen(): Promise<void>;
  close(): Promise<void>;
  /** `host:port` once listening (port 0 picks one). */
  address(): string;
}

export interface Exposition {
  render(): Promise<{ contentType: string; body: string }>;
}

export function parseMetricsAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`invalid --metrics-addr: want host:port, got ${JSON.stringify(addr)}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function createMetricsServer(addr: string, metrics: Exposition, log: { warn(o: object, m: string): void }): MetricsServer {
  const { host, port } = parseMetricsAddr(addr);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('Method Not Allowed\n');
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        log.warn({ err }, 'metrics: collecting failed');
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`An error has occurred while serving metrics:\n\n${(err as Error)?.message}\n`);
      },
    );
  });
  server.keepAliveTimeout = 30_000;
  let bound = addr;
  return {
    async listen() {
      bound = await listenTcp(server, host, port);
    },
    async close() {
      await closeHttpServer(server);
    },
    address: () => bound,
  };
}
