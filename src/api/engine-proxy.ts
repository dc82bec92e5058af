import * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { capPathVersion } from './convert';
import type { ApiLogger } from './logger';

// Passes non-swarm Engine API requests to the local Docker Engine over its unix socket,
// streaming both ways. Upgraded requests (attach, exec start: `Connection: Upgrade`) are proxied
// at the byte level so the body, the 101 answer and the raw stream all flow untouched, with
// half-close honoured in both directions.

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

/** `unix:///var/run/docker.sock` or a bare path → the socket path. */
export function engineSocketPath(spec: string): string {
  if (spec.startsWith('unix://')) return spec.slice('unix://'.length);
  if (spec.includes('://')) throw new Error(`unsupported engine address ${spec}: only unix:// sockets are supported`);
  return spec;
}

export class EngineProxy {
  readonly socketPath: string;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private versionPromise?: Promise<string | undefined>;
  private readonly live = new Set<Duplex>();

  constructor(
    spec: string,
    private readonly logger: ApiLogger,
    private readonly ourHeaders: Record<string, string>,
  ) {
    this.socketPath = engineSocketPath(spec);
  }

  /** The engine's maximum API version (from its /_ping), cached; undefined when it cannot be learnt. */
  apiVersion(): Promise<string | undefined> {
    if (!this.versionPromise) {
      this.versionPromise = new Promise<string | undefined>((resolve) => {
        const r = http.request({ socketPath: this.socketPath, method: 'GET', path: '/_ping', agent: this.agent, timeout: 3000 }, (res) => {
          res.resume();
          const v = res.headers['api-version'];
          resolve(typeof v === 'string' ? v : undefined);
        });
        r.on('timeout', () => r.destroy(new Error('engine ping timed out')));
        r.on('error', () => resolve(undefined));
        r.end();
      }).then((v) => {
        if (v === undefined) this.versionPromise = undefined; // try again next time
        return v;
      });
    }
    return this.versionPromise;
  }

  private async enginePath(rawUrl: string): Promise<string> {
    return capPathVersion(rawUrl, await this.apiVersion());
  }

  /** A JSON request to the engine; resolves with status and parsed body (or undefined on non-JSON). */
  async request(
    method: string,
    path: string,
    opts: { timeoutMs?: number; body?: unknown; signal?: AbortSignal; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: unknown }> {
    const p = await this.enginePath(path);
    return new Promise((resolve, reject) => {
      const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
      const r = http.request(
        {
          socketPath: this.socketPath,
          method,
          path: p,
          agent: this.agent,
          timeout: opts.timeoutMs ?? 10_000,
          signal: opts.signal,
          headers: { ...opts.headers, ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              body = undefined;
            }
            resolve({ status: res.statusCode ?? 500, body });
          });
          res.on('error', reject);
        },
      );
      r.on('timeout', () => r.destroy(new Error(`engine request ${method} ${path} timed out`)));
      r.on('error', reject);
      r.end(payload);
    });
  }

  /** Streams newline-delimited JSON from the engine (GET /events) until it ends or `signal` aborts. */
  async streamLines(path: string, signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
    const p = await this.enginePath(path);
    await new Promise<void>((resolve, reject) => {
      if (signal.aborted) return resolve();
      const r = http.request({ socketPath: this.socketPath, method: 'GET', path: p, agent: this.agent }, (res) => {
        if ((res.statusCode ?? 500) >= 400) {
          res.resume();
          reject(new Error(`engine answered ${res.statusCode} to ${path}`));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (line) onLine(line);
          }
        });
        res.on('end', () => resolve());
        res.on('error', () => resolve());
        res.on('close', () => resolve());
      });
      const onAbort = () => {
        r.destroy();
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      r.on('error', (e) => (signal.aborted ? resolve() : reject(e)));
      r.on('close', () => signal.removeEventListener('abort', onAbort));
      r.end();
    });
  }

  /** Forwards one ordinary HTTP request and its response, streaming bodies both ways. */
  async forward(req: http.IncomingMessage, res: http.ServerResponse, rawUrl: string): Promise<void> {
    const path = await this.enginePath(rawUrl);
    await new Promise<void>((resolve) => {
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
      const preq = http.request({ socketPath: this.socketPath, method: req.method, path, headers, agent: this.agent });
      preq.on('response', (pres) => {
        const status = pres.statusCode ?? 502;
        const framed =
          pres.headers['content-length'] !== undefined ||
          pres.headers['transfer-encoding'] !== undefined ||
          req.method === 'HEAD' ||
          status === 204 ||
          status === 304;
        if (!framed) {
          // A hijacked stream (e.g. attach without Upgrade): the engine writes raw bytes until it closes.
          this.hijackResponse(req, pres, status);
          pres.on('close', resolve);
          return;
        }
        res.statusCode = status;
        for (const [k, v] of Object.entries(pres.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) res.setHeader(k, v);
        for (const [k, v] of Object.entries(this.ourHeaders)) res.setHeader(k, v);
        // Streams (logs -f, events, pulls) must reach the client as they come.
        res.flushHeaders();
        pres.pipe(res);
        pres.on('end', resolve);
        pres.on('error', () => {
          res.destroy();
          resolve();
        });
      });
      preq.on('error', (e) => {
        this.logger.warn({ err: e.message, path }, 'engine passthrough failed');
        if (!res.headersSent) {
          const text = JSON.stringify({ message: `cannot reach the container engine at ${this.socketPath}: ${e.message}` }) + '\n';
          res.statusCode = 502;
          res.setHeader('Content-Type', 'application/json');
          res.end(text);
        } else res.destroy();
        resolve();
      });
      res.on('close', () => {
        if (!res.writableFinished) preq.destroy();
        resolve();
      });
      req.pipe(preq);
    });
  }

  private hijackResponse(req: http.IncomingMessage, pres: http.IncomingMessage, status: number): void {
    const sock = req.socket;
    const lines = [`HTTP/1.1 ${status} ${pres.statusMessage ?? ''}`];
    for (let i = 0; i < pres.rawHeaders.length; i += 2) {
      const k = pres.rawHeaders[i];
      if (!HOP_BY_HOP.has(k.toLowerCase()) && !(k.toLowerCase() in lowerKeys(this.ourHeaders))) lines.push(`${k}: ${pres.rawHeaders[i + 1]}`);
    }
    for (const [k, v] of Object.entries(this.ourHeaders)) lines.push(`${k}: ${v}`);
    lines.push('Connection: close');
    sock.write(lines.join('\r\n') + '\r\n\r\n');
    this.track(sock);
    pres.on('data', (c: Buffer) => sock.write(c));
    pres.on('end', () => sock.end());
    pres.on('error', () => sock.destroy());
    sock.on('close', () => pres.destroy());
  }

  /** Proxies an upgrade request (attach / exec start / session) byte for byte. */
  async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, rawUrl: string): Promise<void> {
    const path = await this.enginePath(rawUrl);
    const upstream = net.connect({ path: this.socketPath, allowHalfOpen: true });
    this.track(socket);
    this.track(upstream);
    const lines = [`${req.method} ${path} HTTP/${req.httpVersion}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.on('connect', () => {
      upstream.write(lines.join('\r\n') + '\r\n\r\n');
      if (head.length) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    upstream.on('error', (e) => {
      this.logger.warn({ err: e.message, path }, 'engine upgrade passthrough failed');
      if (socket.writable && (socket as net.Socket).bytesWritten === 0) {
        const text = JSON.stringify({ message: `cannot reach the container engine at ${this.socketPath}: ${e.message}` }) + '\n';
        socket.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
      } else socket.destroy();
    });
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      // Let pending bytes drain; the engine closed its side fully.
      if (!socket.destroyed) socket.end();
    });
  }

  private track(s: Duplex): void {
    this.live.add(s);
    s.on('close', () => this.live.delete(s));
  }

  close(): void {
    for (const s of this.live) s.destroy();
    this.live.clear();
    this.agent.destroy();
  }
}

function lowerKeys(o: Record<string, string>): Record<string, true> {
  const out: Record<string, true> = {};
  for (const k of Object.keys(o)) out[k.toLowerCase()] = true;
  return out;
}
