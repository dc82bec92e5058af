// The Engine API client of the shoal CLI: HTTP over a unix socket or TCP, versioned paths.
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export const API_VERSION = '1.47';

export class CliError extends Error {
  constructor(
    message: string,
    readonly status = 0,
  ) {
    super(message);
  }
}

/** An error the daemon answered with; printed as `Error response from daemon: <message>`. */
export class DaemonError extends CliError {}

export interface Endpoint {
  socketPath?: string;
  host?: string;
  port?: number;
  display: string;
}

export function defaultHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.SHOAL_HOST || env.DOCKER_HOST || `unix://${path.join(os.homedir(), '.shoal', 'shoal.sock')}`;
}

/** unix:///path, tcp://host:port, http://host:port or a bare /path. */
export function parseHost(h: string): Endpoint {
  if (h.startsWith('unix://')) return { socketPath: h.slice('unix://'.length), display: h };
  if (h.startsWith('/')) return { socketPath: h, display: `unix://${h}` };
  const m = /^(?:tcp|http):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(h);
  if (!m) throw new CliError(`unable to parse docker host \`${h}\``);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: m[2] ? Number(m[2]) : 2375, display: h };
}

export type Query = Record<string, string | number | boolean | undefined>;

export function queryString(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export class ApiClient {
  constructor(
    readonly endpoint: Endpoint,
    readonly timeoutMs = 60_000,
  ) {}

  private open(method: string, p: string, body: unknown, opts: { stream?: boolean; unversioned?: boolean } = {}): Promise<http.IncomingMessage> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { 'user-agent': 'shoal-cli' };
    if (data) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = data.length;
    }
    const fullPath = (opts.unversioned ? '' : `/v${API_VERSION}`) + p;
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          ...(this.endpoint.socketPath ? { socketPath: this.endpoint.socketPath } : { host: this.endpoint.host, port: this.endpoint.port }),
          method,
          path: fullPath,
          headers,
          ...(opts.stream ? {} : { timeout: this.timeoutMs }),
        },
        resolve,
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'EACCES')
          reject(new CliError(`Cannot connect to the Shoal daemon at ${this.endpoint.display}. Is the shoal daemon running?`, -1));
        else reject(new CliError(e.message));
      });
      req.on('timeout', () => req.destroy(new Error(`request ${method} ${p} timed out`)));
      if (data) req.write(data);
      req.end();
    });
  }

  private static async readAll(res: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  private static async failure(res: http.IncomingMessage): Promise<DaemonError> {
    const text = await ApiClient.readAll(res);
    let msg = text.trim();
    try {
      const j = JSON.parse(text) as { message?: string };
      if (j && typeof j.message === 'string') msg = j.message;
    } catch {
      /* plain text */
    }
    return new DaemonError(msg || `${res.statusCode} ${res.statusMessage ?? ''}`.trim(), res.statusCode ?? 0);
  }

  /** A JSON request; throws DaemonError for a non-2xx answer. */
  async request<T = unknown>(method: string, p: string, opts: { query?: Query; body?: unknown; unversioned?: boolean } = {}): Promise<T> {
    const res = await this.open(method, p + queryString(opts.query), opts.body, { unversioned: opts.unversioned });
    if ((res.statusCode ?? 0) >= 400) throw await ApiClient.failure(res);
    const text = await ApiClient.readAll(res);
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  get<T = unknown>(p: string, query?: Query): Promise<T> {
    return this.request<T>('GET', p, { query });
  }

  post<T = unknown>(p: string, body?: unknown, query?: Query): Promise<T> {
    return this.request<T>('POST', p, { body, query });
  }

  /** A streaming GET (logs): returns the response once the status is known to be good. */
  async stream(p: string, query?: Query): Promise<http.IncomingMessage> {
    const res = await this.open('GET', p + queryString(query), undefined, { stream: true });
    if ((res.statusCode ?? 0) >= 400) throw await ApiClient.failure(res);
    return res;
  }
}

/** The filters query parameter in the Engine's map form: {"service":{"web":true}}. */
export function filters(f: Record<string, string[]>): string {
  const o: Record<string, Record<string, boolean>> = {};
  for (const [k, vs] of Object.entries(f)) {
    o[k] = {};
    for (const v of vs) o[k][v] = true;
  }
  return JSON.stringify(o);
}
