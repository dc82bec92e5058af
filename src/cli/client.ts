// The Engine API client of the shoal CLI: versioned paths over the one HTTP client (sys/http-client.ts).
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { HttpTransport, parseHttpAddress, readText, type RawResponse } from '../sys/http-client';

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
  const a = parseHttpAddress(h);
  if (!a) throw new CliError(`unable to parse docker host \`${h}\``);
  if (a.socketPath !== undefined) return { socketPath: a.socketPath, display: h.startsWith('/') ? `unix://${h}` : h };
  return { host: a.hostname, port: a.port, display: h };
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
  private readonly http: HttpTransport;

  constructor(
    readonly endpoint: Endpoint,
    readonly timeoutMs = 60_000,
  ) {
    this.http = new HttpTransport(endpoint.socketPath !== undefined ? { socketPath: endpoint.socketPath } : { hostname: endpoint.host, port: endpoint.port }, timeoutMs);
  }

  private async open(method: string, p: string, body: unknown, opts: { stream?: boolean; unversioned?: boolean } = {}): Promise<RawResponse> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    try {
      return await this.http.request({
        method,
        path: (opts.unversioned ? '' : `/v${API_VERSION}`) + p,
        headers: { 'user-agent': 'shoal-cli', ...(data ? { 'content-type': 'application/json' } : {}) },
        body: data,
        ...(opts.stream ? { timeoutMs: 0 } : {}),
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES')
        throw new CliError(`Cannot connect to the Shoal daemon at ${this.endpoint.display}. Is the shoal daemon running?`, -1);
      throw new CliError((e as Error).message);
    }
  }

  private static async failure(res: RawResponse): Promise<DaemonError> {
    const text = await readText(res.body);
    let msg = text.trim();
    try {
      const j = JSON.parse(text) as { message?: string };
      if (j && typeof j.message === 'string') msg = j.message;
    } catch {
      /* plain text */
    }
    return new DaemonError(msg || `${res.statusCode}`, res.statusCode);
  }

  /** A JSON request; throws DaemonError for a non-2xx answer. */
  async request<T = unknown>(method: string, p: string, opts: { query?: Query; body?: unknown; unversioned?: boolean } = {}): Promise<T> {
    const res = await this.open(method, p + queryString(opts.query), opts.body, { unversioned: opts.unversioned });
    if (res.statusCode >= 400) throw await ApiClient.failure(res);
    const text = await readText(res.body);
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

  /** A streaming GET (logs): the body, with the answer's headers, once the status is known to be good. */
  async stream(p: string, query?: Query): Promise<Readable & { headers: RawResponse['headers'] }> {
    const res = await this.open('GET', p + queryString(query), undefined, { stream: true });
    if (res.statusCode >= 400) throw await ApiClient.failure(res);
    return Object.assign(res.body, { headers: res.headers });
  }

  /** Drops the kept-alive connections (and any stream still open), so the command's process can exit. */
  close(): void {
    this.http.destroy();
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
