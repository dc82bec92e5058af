// A Docker Engine API client over a unix socket or TCP, on sys/http-client.ts. Versioned paths
// (`/v1.41/...`, what Debian's docker.io 20.10 speaks). Engine errors become ShoalErrors
// (see ./errors.ts) carrying the engine's own message.
import type { Readable } from 'node:stream';
import { HttpTransport, parseHttpAddress, readText, type HttpAddress, type RawRequest, type RawResponse, type UpgradedStream } from '../sys/http-client';
import { connectionError, EngineError, engineMessage } from './errors';
import { demux, jsonLines, rawFrames } from './stream';
import type {
  ContainerCreateConfig,
  ContainerInspect,
  ContainerSummary,
  EngineEvent,
  EngineFilters,
  EndpointSettings,
  EngineInfo,
  EngineNetwork,
  EngineNetworkCreate,
  EngineVersion,
  ImageInspect,
  LogFrame,
  LogsOptions,
} from './types';

export const DEFAULT_API_VERSION = '1.41';

export interface EngineClientOptions {
  /** `unix:///var/run/docker.sock`, `/path/to.sock`, `tcp://host:port` or `http://host:port`. */
  host: string;
  /** API version used in paths; default 1.41. `negotiate()` may lower it to the engine's. */
  apiVersion?: string;
  /** Headers timeout for ordinary (non-streaming) requests, ms. Default 60 s. */
  timeoutMs?: number;
}

export type EngineAddress = HttpAddress;
export type { RawRequest, RawResponse, UpgradedStream };
export { readText };

export function parseEngineHost(host: string): EngineAddress {
  const addr = parseHttpAddress(host);
  if (!addr) throw new EngineError(400, `invalid engine address: ${host}`);
  return addr;
}

export type Query = Record<string, string | number | boolean | undefined | EngineFilters>;

export function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    const s = typeof v === 'object' ? JSON.stringify(v) : typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(s)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export class EngineClient {
  readonly host: string;
  apiVersion: string;
  private readonly http: HttpTransport;
  private readonly timeoutMs: number;

  constructor(opts: EngineClientOptions) {
    this.host = opts.host;
    this.apiVersion = opts.apiVersion ?? DEFAULT_API_VERSION;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    // streams and long polls set their own timeouts (0 = none)
    this.http = new HttpTransport(parseEngineHost(opts.host), this.timeoutMs);
  }

  /** `/v1.41` + path. */
  versioned(path: string): string {
    return `/v${this.apiVersion}${path.startsWith('/') ? path : `/${path}`}`;
  }

  /** Sends a request as given (no version prefix added) and returns the engine's answer unchanged. */
  async request(req: RawRequest): Promise<RawResponse> {
    try {
      return await this.http.request(req);
    } catch (err) {
      throw connectionError(this.host, err);
    }
  }

  /** A versioned call; non-2xx answers (except those in `ok`) throw EngineError. */
  private async call(
    method: string,
    path: string,
    opts: { query?: Query; json?: unknown; ok?: number[]; signal?: AbortSignal; timeoutMs?: number; headers?: Record<string, string> } = {},
  ): Promise<RawResponse> {
    const headers: Record<string, string> = { ...opts.headers };
    let body: Buffer | undefined;
    if (opts.json !== undefined) {
      body = Buffer.from(JSON.stringify(opts.json));
      headers['content-type'] = 'application/json';
    }
    const res = await this.request({
      method,
      path: this.versioned(path) + encodeQuery(opts.query),
      headers,
      body,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
    });
    if (res.statusCode >= 300 && !(opts.ok ?? []).includes(res.statusCode)) {
      const text = await readText(res.body).catch(() => '');
      throw new EngineError(res.statusCode, engineMessage(res.statusCode, text));
    }
    return res;
  }

  private async json<T>(method: string, path: string, opts: Parameters<EngineClient['call']>[2] = {}): Promise<T> {
    const res = await this.call(method, path, opts);
    const text = await readText(res.body);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async empty(method: string, path: string, opts: Parameters<EngineClient['call']>[2] = {}): Promise<number> {
    const res = await this.call(method, path, opts);
    for await (const _c of res.body) {
      /* drain */
    }
    return res.statusCode;
  }

  /** `GET /_ping` (unversioned): true when the engine answers OK; also returns its API-Version. */
  async ping(): Promise<{ ok: boolean; apiVersion?: string }> {
    const res = await this.request({ method: 'GET', path: '/_ping' });
    const text = await readText(res.body);
    const v = res.headers['api-version'];
    return { ok: res.statusCode === 200 && text === 'OK', apiVersion: Array.isArray(v) ? v[0] : v };
  }

  /** Lowers the client's API version to the engine's when the engine is older. Returns the version used. */
  async negotiate(): Promise<string> {
    const { apiVersion } = await this.ping();
    if (apiVersion && compareVersions(apiVersion, this.apiVersion) < 0) this.apiVersion = apiVersion;
    return this.apiVersion;
  }

  version(): Promise<EngineVersion> {
    return this.json('GET', '/version');
  }

  info(): Promise<EngineInfo> {
    return this.json('GET', '/info');
  }

  imageInspect(ref: string): Promise<ImageInspect> {
    return this.json('GET', `/images/${encodeURIComponent(ref)}/json`);
  }

  /**
   * Pulls `fromImage` at `tag` (a tag, or a digest `sha256:…`), as `docker pull` does, with the
   * client's encoded registry credentials (`X-Registry-Auth`) when given. The engine answers 200 and
   * then streams progress; a failure midway is the stream's last `error`, thrown here as an
   * EngineError with the engine's text. No overall timeout (a large image takes what it takes), but
   * an idle one: the engine streams progress while it downloads and extracts, so `idleTimeoutMs`
   * (default 2 min) without a byte means a registry that stopped answering. `signal` ends it sooner.
   */
  async imagePull(fromImage: string, tag: string, opts: { registryAuth?: string; signal?: AbortSignal; idleTimeoutMs?: number } = {}): Promise<void> {
    const headers: Record<string, string> = opts.registryAuth ? { 'X-Registry-Auth': opts.registryAuth } : {};
    const res = await this.call('POST', '/images/create', { query: { fromImage, tag }, headers, signal: opts.signal, timeoutMs: opts.idleTimeoutMs ?? 120_000 });
    let failure: string | undefined;
    for await (const m of jsonLines<{ error?: string; errorDetail?: { message?: string } }>(res.body)) {
      if (m.error) failure = m.error;
    }
    if (failure !== undefined) throw new EngineError(500, failure);
  }

  /** Creates a container; `name` optional. Returns its ID and the engine's warnings. */
  containerCreate(config: ContainerCreateConfig, name?: string): Promise<{ Id: string; Warnings: string[] | null }> {
    return this.json('POST', '/containers/create', { query: { name }, json: config });
  }

  /** Starts a container; an already running one is fine (304). */
  async containerStart(id: string): Promise<void> {
    await this.empty('POST', `/containers/${encodeURIComponent(id)}/start`, { ok: [304] });
  }

  containerInspect(id: string): Promise<ContainerInspect> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/json`);
  }

  /**
   * Blocks until the container reaches `condition` (default not-running) and returns its exit code.
   * No timeout; abort with `signal`.
   */
  async containerWait(
    id: string,
    condition: 'not-running' | 'next-exit' | 'removed' = 'not-running',
    signal?: AbortSignal,
  ): Promise<{ StatusCode: number; Error?: { Message: string } | null }> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/wait`, { query: { condition }, signal, timeoutMs: 0 });
  }

  /** Stop signal, then SIGKILL after `timeoutSec` (engine default when absent). A stopped one is fine (304). */
  async containerStop(id: string, timeoutSec?: number): Promise<void> {
    await this.empty('POST', `/containers/${encodeURIComponent(id)}/stop`, {
      query: { t: timeoutSec },
      ok: [304],
      timeoutMs: timeoutSec === undefined ? 0 : Math.max((timeoutSec + 30) * 1000, this.timeoutMs),
    });
  }

  async containerKill(id: string, signal = 'SIGKILL'): Promise<void> {
    await this.empty('POST', `/containers/${encodeURIComponent(id)}/kill`, { query: { signal } });
  }

  async containerRemove(id: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    await this.empty('DELETE', `/containers/${encodeURIComponent(id)}`, { query: { force: opts.force, v: opts.volumes } });
  }

  /** `GET /containers/json`; `labels` are `key` or `key=value` filters. */
  containerList(opts: { all?: boolean; labels?: string[]; filters?: EngineFilters } = {}): Promise<ContainerSummary[]> {
    const filters: EngineFilters = { ...(opts.filters ?? {}) };
    if (opts.labels?.length) filters.label = [...(filters.label ?? []), ...opts.labels];
    return this.json('GET', '/containers/json', {
      query: { all: opts.all, filters: Object.keys(filters).length ? filters : undefined },
    });
  }

  /** `GET /networks`; `labels` are `key` or `key=value` filters. */
  networkList(opts: { labels?: string[] } = {}): Promise<EngineNetwork[]> {
    return this.json('GET', '/networks', { query: { filters: opts.labels?.length ? { label: opts.labels } : undefined } });
  }

  networkCreate(body: EngineNetworkCreate): Promise<{ Id: string; Warning?: string }> {
    return this.json('POST', '/networks/create', { json: body });
  }

  async networkRemove(id: string): Promise<void> {
    await this.empty('DELETE', `/networks/${encodeURIComponent(id)}`);
  }

  /** Attaches a (created, not yet started) container, with its endpoint settings (a fixed address). */
  async networkConnect(id: string, container: string, endpoint: EndpointSettings): Promise<void> {
    await this.empty('POST', `/networks/${encodeURIComponent(id)}/connect`, { json: { Container: container, EndpointConfig: endpoint } });
  }

  /**
   * The container's output as demultiplexed frames (raw frames of stdout for TTY containers).
   * With `follow` the iterable ends when the container stops or `signal` aborts.
   */
  async containerLogs(id: string, opts: LogsOptions = {}, signal?: AbortSignal): Promise<AsyncIterable<LogFrame>> {
    const tty = opts.tty ?? (await this.containerInspect(id)).Config.Tty ?? false;
    const res = await this.call('GET', `/containers/${encodeURIComponent(id)}/logs`, {
      query: {
        follow: opts.follow ?? false,
        stdout: opts.stdout ?? true,
        stderr: opts.stderr ?? true,
        since: opts.since,
        until: opts.until,
        timestamps: opts.timestamps ?? false,
        tail: opts.tail === undefined ? undefined : String(opts.tail),
      },
      signal,
      timeoutMs: 0,
    });
    return tty ? rawFrames(quietAbort(res.body)) : demux(quietAbort(res.body));
  }

  /** The events stream (`since`/`until` in seconds); ends when `signal` aborts or the engine closes it. */
  async events(opts: { filters?: EngineFilters; since?: number; until?: number } = {}, signal?: AbortSignal): Promise<AsyncIterable<EngineEvent>> {
    const res = await this.call('GET', '/events', {
      query: { filters: opts.filters, since: opts.since, until: opts.until },
      signal,
      timeoutMs: 0,
    });
    return jsonLines<EngineEvent>(quietAbort(res.body));
  }

  /**
   * Opens a raw connection to the engine, writes the request (for `/containers/{id}/attach` and
   * `/exec/{id}/start`, with `Connection: Upgrade` and `Upgrade: tcp`) and reads the response head.
   * The returned socket carries the stream both ways; the API layer pipes it to its client.
   */
  upgrade(req: { method: string; path: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<UpgradedStream> {
    return this.http.upgrade(req).catch((err: unknown) => {
      throw connectionError(this.host, err);
    });
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

/** Ends an iteration quietly when the request is aborted (the caller asked for that). */
async function* quietAbort(body: Readable): AsyncGenerator<Buffer> {
  try {
    for await (const c of body) yield c as Buffer;
  } catch (err) {
    const e = err as { name?: string; code?: string };
    if (e?.name === 'AbortError' || e?.code === 'ABORT_ERR' || e?.code === 'ECONNRESET') return;
    throw err;
  } finally {
    body.destroy();
  }
}

/** Compares dotted versions numerically: -1, 0, 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d < 0 ? -1 : 1;
  }
  return 0;
}
