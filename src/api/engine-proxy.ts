import * as http from 'node:http';
import * as net from 'node:net';
import * as readline from 'node:readline';
import type { Duplex, Readable } from 'node:stream';
import { HttpTransport, isTimeout, readText } from '../sys/http-client';
import { capPathVersion } from './convert';
import type { ApiLogger } from './logger';

// Passes non-swarm Engine API requests to the local Docker Engine over its unix socket
// (through the one HTTP client, sys/http-client.ts), streaming both ways. Upgraded requests (attach, exec start: `Connection: Upgrade`) are proxied
// at the byte level so the body, the 101 answer and the raw stream all flow untouched, with
// half-close honoured in both directions.

// (`expect` too: the client sends its own request framing and does not wait for a 100-continue)
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'expect']);

/** `unix:///var/run/docker.sock` or a bare path → the socket path. */
export function engineSocketPath(spec: string): string {
  if (spec.startsWith('unix://')) return spec.slice('unix://'.length);
  if (spec.includes('://')) throw new Error(`unsupported engine address ${spec}: only unix:// sockets are supported`);
  return spec;
}

export class EngineProxy {
  readonly socketPath: string;
  /** No default timeout: passthrough streams (logs -f, events, pulls) last as long as the client wants. */
  private readonly http: HttpTransport;
  private versionPromise?: Promise<string | undefined>;
  private readonly live = new Set<Duplex>();

  constructor(
    spec: string,
    private readonly logger: ApiLogger,
    private readonly ourHeaders: Record<string, string>,
  ) {
    this.socketPath = engineSocketPath(spec);
    this.http = new HttpTransport({ socketPath: this.socketPath }, 0);
  }

  /** The engine's maximum API version (from its /_ping), cached; undefined when it cannot be learnt. */
  apiVersion(): Promise<string | undefined> {
    if (!this.versionPromise) {
      this.versionPromise = this.http
        .request({ method: 'GET', path: '/_ping', timeoutMs: 3000 })
        .then(async (res) => {
          await readText(res.body);
          const v = res.headers['api-version'];
          return typeof v === 'string' ? v : undefined;
        })
        .catch(() => undefined)
        .then((v) => {
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
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    let text: string;
    let status: number;
    try {
      const res = await this.http.request({
        method,
        path: await this.enginePath(path),
        timeoutMs: opts.timeoutMs ?? 10_000,
        signal: opts.signal,
        headers: { ...opts.headers, ...(payload ? { 'content-type': 'application/json' } : {}) },
        body: payload,
      });
      status = res.statusCode;
      text = await readText(res.body);
    } catch (e) {
      if (isTimeout(e)) throw new Error(`engine request ${method} ${path} timed out`);
      throw e;
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status, body };
  }

  /** Streams newline-delimited JSON from the engine (GET /events) until it ends or `signal` aborts. */
  async streamLines(path: string, signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
    if (signal.aborted) return;
    let res;
    try {
      res = await this.http.request({ method: 'GET', path: await this.enginePath(path), signal, timeoutMs: 0 });
    } catch (e) {
      if (signal.aborted) return;
      throw e;
    }
    if (res.statusCode >= 400) {
      res.body.resume();
      throw new Error(`engine answered ${res.statusCode} to ${path}`);
    }
    try {
      for await (const line of readline.createInterface({ input: res.body, crlfDelay: Infinity })) {
        const l = line.trim();
        if (l) onLine(l);
      }
    } catch {
      // the engine or the client went away: the stream is over either way
    } finally {
      res.body.destroy();
    }
  }

  /** Forwards one ordinary HTTP request and its response, streaming bodies both ways. */
  async forward(req: http.IncomingMessage, res: http.ServerResponse, rawUrl: string): Promise<void> {
    const path = await this.enginePath(rawUrl);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    const hasBody = (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    let pres;
    try {
      pres = await this.http.request({ method: req.method ?? 'GET', path, headers, body: hasBody ? req : undefined, signal: gone.signal, timeoutMs: 0 });
    } catch (e) {
      if (gone.signal.aborted) return;
      this.logger.warn({ err: (e as Error).message, path }, 'engine passthrough failed');
      if (!res.headersSent) {
        const text = JSON.stringify({ message: `cannot reach the container engine at ${this.socketPath}: ${(e as Error).message}` }) + '\n';
        res.statusCode = 502;
        res.setHeader('Content-Type', 'application/json');
        res.end(text);
      } else res.destroy();
      return;
    }
    const status = pres.statusCode;
    const framed =
      pres.headers['content-length'] !== undefined || pres.headers['transfer-encoding'] !== undefined || req.method === 'HEAD' || status === 204 || status === 304;
    if (!framed) {
      // A hijacked stream (e.g. attach without Upgrade): the engine writes raw bytes until it closes.
      this.hijackResponse(req, pres.headers, pres.body, status);
      await new Promise<void>((resolve) => pres.body.on('close', resolve));
      return;
    }
    res.statusCode = status;
    for (const [k, v] of Object.entries(pres.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) res.setHeader(k, v);
    for (const [k, v] of Object.entries(this.ourHeaders)) res.setHeader(k, v);
    // Streams (logs -f, events, pulls) must reach the client as they come.
    res.flushHeaders();
    await new Promise<void>((resolve) => {
      pres.body.pipe(res);
      pres.body.on('end', resolve);
      pres.body.on('error', () => {
        res.destroy();
        resolve();
      });
      res.on('close', resolve);
    });
  }

  private hijackResponse(req: http.IncomingMessage, headers: Record<string, string | string[] | undefined>, body: Readable, status: number): void {
    const sock = req.socket;
    const ours = lowerKeys(this.ourHeaders);
    const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`];
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined || HOP_BY_HOP.has(k) || k in ours) continue;
      for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
    }
    for (const [k, v] of Object.entries(this.ourHeaders)) lines.push(`${k}: ${v}`);
    lines.push('Connection: close');
    sock.write(lines.join('\r\n') + '\r\n\r\n');
    this.track(sock);
    body.on('data', (c: Buffer) => sock.write(c));
    body.on('end', () => sock.end());
    body.on('error', () => sock.destroy());
    sock.on('close', () => body.destroy());
  }

  /**
   * Proxies an upgrade request (attach / exec start / session) byte for byte: a tunnel to the
   * engine's socket rather than an HTTP exchange, so the body, the 101 answer and the raw stream
   * all flow untouched, with half-close honoured both ways.
   */
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
    this.http.destroy();
  }
}

function lowerKeys(o: Record<string, string>): Record<string, true> {
  const out: Record<string, true> = {};
  for (const k of Object.keys(o)) out[k.toLowerCase()] = true;
  return out;
}
