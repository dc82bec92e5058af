// The one HTTP/1.1 client for the Engine API, on node:http, over a unix socket or TCP. The engine
// client (engine/client.ts), the API's passthrough to the local engine (api/engine-proxy.ts) and
// the shoal CLI (cli/client.ts) all speak through it; each turns its errors into its own words
// (the engine client: "Cannot connect to the Docker daemon…", the CLI: "…the Shoal daemon…").
import * as http from 'node:http';
import * as net from 'node:net';
import type { Readable } from 'node:stream';

export interface HttpAddress {
  socketPath?: string;
  hostname?: string;
  port?: number;
}

/** `unix:///path`, a bare `/path`, `tcp://host[:port]` or `http://host[:port]` (port 2375 by default); undefined otherwise. */
export function parseHttpAddress(spec: string): HttpAddress | undefined {
  if (spec.startsWith('unix://')) return { socketPath: spec.slice('unix://'.length) };
  if (spec.startsWith('/')) return { socketPath: spec };
  const m = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(spec);
  if (!m) return undefined;
  return { hostname: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 2375 };
}

export interface RawRequest {
  method: string;
  /** Path and query string, sent as given. */
  path: string;
  headers?: Record<string, string | string[] | number | undefined>;
  body?: Readable | Buffer | string | null;
  signal?: AbortSignal;
  /** Headers and idle-body timeout; default the transport's; 0 disables (streams, long polls). */
  timeoutMs?: number;
}

export interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

export interface UpgradedStream {
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string>;
  /** The response head exactly as the peer sent it (status line + headers + CRLFCRLF). */
  rawHead: Buffer;
  /** Stream bytes already read past the head. */
  head: Buffer;
  /** The raw connection (allowHalfOpen): pipe both ways; `end()` half-closes. */
  socket: net.Socket;
}

const HEADERS_TIMEOUT = 'HTTP_HEADERS_TIMEOUT';
const BODY_TIMEOUT = 'HTTP_BODY_TIMEOUT';

function timeoutError(code: string, ms: number): Error {
  return Object.assign(new Error(code === HEADERS_TIMEOUT ? `no response head within ${ms} ms` : `response body stalled for ${ms} ms`), { code });
}

/** True for the transport's own timeouts (no answer head, or a body that stopped arriving, within `timeoutMs`). */
export function isTimeout(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === HEADERS_TIMEOUT || code === BODY_TIMEOUT;
}

/** Reads a whole body as UTF-8 text. */
export async function readText(body: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Requests over node's own HTTP client (a keep-alive Agent), whose parser is the native llhttp already in
 * node's binary. undici, used before, parses with llhttp compiled to WebAssembly at the first request:
 * ≈ 22 MiB resident and ≈ 47 MiB at peak in the daemon, for the same requests (docs/design/performance.md,
 * "Memory (issue 16)").
 */
export class HttpTransport {
  private readonly agent = new http.Agent({ keepAlive: true });
  private closed = false;

  constructor(
    readonly address: HttpAddress,
    private readonly timeoutMs: number,
  ) {
    // after close() a connection whose request ends is not kept for another
    const keep = this.agent.keepSocketAlive.bind(this.agent);
    this.agent.keepSocketAlive = (socket) => !this.closed && keep(socket);
  }

  /** Sends one request as given; resolves with the status, headers and a streaming body. Connection errors reject as they come. */
  request(req: RawRequest): Promise<RawResponse> {
    const timeout = req.timeoutMs ?? this.timeoutMs;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers ?? {})) if (v !== undefined) headers[k] = typeof v === 'number' ? String(v) : v;
    const addr = this.address;
    return new Promise((resolve, reject) => {
      const out = http.request({
        agent: this.agent,
        ...(addr.socketPath ? { socketPath: addr.socketPath } : { host: addr.hostname, port: addr.port }),
        method: req.method,
        path: req.path,
        headers,
        signal: req.signal,
      });
      // headers timeout: no response head within `timeout`; then the body's idle timeout on the socket
      const headTimer = timeout > 0 ? setTimeout(() => out.destroy(timeoutError(HEADERS_TIMEOUT, timeout)), timeout) : undefined;
      out.once('error', (err) => {
        clearTimeout(headTimer);
        reject(err);
      });
      out.once('response', (res) => {
        clearTimeout(headTimer);
        const socket = res.socket;
        if (timeout > 0) {
          const stalled = () => res.destroy(timeoutError(BODY_TIMEOUT, timeout));
          socket.setTimeout(timeout, stalled);
          // the socket goes back to the agent's pool with no timer of this request on it
          res.once('close', () => {
            socket.off('timeout', stalled);
            socket.setTimeout(0);
          });
        }
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      const body = req.body;
      if (body === null || body === undefined) out.end();
      else if (typeof body === 'string' || Buffer.isBuffer(body)) out.end(body);
      else {
        body.once('error', (err) => out.destroy(err));
        body.pipe(out);
      }
    });
  }

  /**
   * Opens a raw connection, writes the request (`Connection: Upgrade`, `Upgrade: tcp` unless the
   * caller's headers say otherwise) and reads the response head; the socket then carries the
   * stream both ways (attach, exec start).
   */
  upgrade(req: { method: string; path: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<UpgradedStream> {
    const addr = this.address;
    return new Promise((resolve, reject) => {
      const socket = addr.socketPath
        ? net.connect({ path: addr.socketPath, allowHalfOpen: true })
        : net.connect({ host: addr.hostname, port: addr.port ?? 2375, allowHalfOpen: true });
      const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
      const headers: Record<string, string> = { Host: addr.socketPath ? 'localhost' : `${addr.hostname}:${addr.port}`, Connection: 'Upgrade', Upgrade: 'tcp' };
      for (const [k, v] of Object.entries(req.headers ?? {})) {
        const existing = Object.keys(headers).find((h) => h.toLowerCase() === k.toLowerCase());
        if (existing) delete headers[existing];
        headers[k] = v;
      }
      if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['Content-Length'] = String(body.length);
      let acc = Buffer.alloc(0);
      const fail = (err: unknown) => {
        socket.destroy();
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      const onData = (chunk: Buffer) => {
        acc = Buffer.concat([acc, chunk]);
        const end = acc.indexOf('\r\n\r\n');
        if (end < 0) {
          if (acc.length > 64 * 1024) fail(new Error('response head too large'));
          return;
        }
        socket.off('data', onData);
        socket.off('error', fail);
        socket.pause();
        const rawHead = acc.subarray(0, end + 4);
        const lines = rawHead.toString('latin1').split('\r\n');
        const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]!);
        if (!m) {
          fail(new Error(`bad response: ${lines[0]}`));
          return;
        }
        const hs: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) hs[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        resolve({ statusCode: Number(m[1]), statusMessage: m[2]!, headers: hs, rawHead, head: acc.subarray(end + 4), socket });
      };
      socket.on('error', fail);
      socket.on('data', onData);
      socket.once('connect', () => {
        let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
        for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
        socket.write(head + '\r\n');
        if (body) socket.write(body);
      });
    });
  }

  /** Closes the idle connections; requests in flight finish, and their connections close after them. */
  async close(): Promise<void> {
    this.closed = true;
    for (const sockets of Object.values(this.agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  }

  /** Closes at once, failing requests in flight (the passthrough's shutdown). */
  destroy(): void {
    this.agent.destroy();
  }
}
