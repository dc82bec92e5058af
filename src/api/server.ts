import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { notFound, unimplemented } from '../lib/errors';
import type { ClusterBackend, DaemonFacts } from './backend';
import { checkClientVersion, parseRequestTarget, routeLabel, splitVersion, type BuildFacts } from './convert';
import type { EngineProxy } from './engine-proxy';
import { errorBody, statusOf } from './errors';
import { sendError } from './http-util';
import { answerWithoutEngine, engineRoutes, isEnginePath, noEngineMessage } from './router/engine';
import { networkRoutes } from './router/networks';
import { secretRoutes } from './router/secrets';
import { serviceRoutes } from './router/services';
import { swarmRoutes } from './router/swarm';
import { systemRoutes } from './router/system';
import { silentLogger, type ApiLogger } from './logger';
import type { Ctx, Route, ServerDeps } from './router/types';

export type { ApiLogger } from './logger';

export interface ApiServerOptions {
  backend: ClusterBackend;
  facts: DaemonFacts;
  /** `unix:///path.sock` or `tcp://host:port` (port 0 picks one; see addresses()). */
  hosts: string[];
  /** `unix:///var/run/docker.sock`: where non-swarm paths go. Defaults to facts.engine. */
  engineSocket?: string;
  logger?: ApiLogger;
  /** Clock for /info SystemTime and events `until`; defaults to Date.now. */
  now?: () => number;
  /** TLS for tcp:// hosts (as dockerd: unix sockets never use it). */
  tls?: ApiTls;
  /** `--tls`/`--tlsverify` was given explicitly: plain TCP on a non-loopback address is not slowed down. */
  tlsExplicit?: boolean;
  /** Connection and header limits; defaults in DEFAULT_LIMITS. */
  limits?: Partial<ApiLimits>;
  /** Told of every finished request, by route pattern (never the raw path): the daemon's metrics. */
  observeRequest?: (r: RequestObservation) => void;
}

export interface RequestObservation {
  method: string;
  /** The route's pattern (`/services/{id}/update`), `engine` for the pass-through, `unmatched` for a 404. */
  route: string;
  status: number;
  seconds: number;
}

export interface ApiTls {
  cert: Buffer;
  key: Buffer;
  /** Required when `verify`: the only CA client certificates may be signed by. */
  ca?: Buffer;
  /** Require and verify client certificates (`--tlsverify`). */
  verify: boolean;
}

export interface ApiLimits {
  /** Open connections per listener; more are closed at once (and logged). */
  maxConnections: number;
  /** A request's headers must arrive within this (slowloris). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Pause after dockerd's warnings for a plain TCP host, and the longer one for a non-loopback address. */
  insecurePauseMs: number;
  insecureNonLoopbackPauseMs: number;
}

/**
 * No total request timeout: image loads and builds upload for long through the engine pass-through,
 * and follow streams (logs, events) are meant to stay open; a request body's own limits are the
 * body reader's (http-util). dockerd's pauses after its insecure-TCP warnings are 1 s and 15 s.
 */
export const DEFAULT_LIMITS: ApiLimits = {
  maxConnections: 1024,
  headersTimeoutMs: 60_000,
  keepAliveTimeoutMs: 30_000,
  insecurePauseMs: 1_000,
  insecureNonLoopbackPauseMs: 15_000,
};

export interface ApiServer {
  listen(): Promise<void>;
  close(): Promise<void>;
  /** Where it listens once listen() resolved: `unix:///…` or `tcp://host:port`. */
  addresses(): string[];
}

const ROUTES: Route[] = [...systemRoutes, ...swarmRoutes, ...serviceRoutes, ...networkRoutes, ...secretRoutes, ...engineRoutes];
const ROUTE_LABELS = new Map<Route, string>(ROUTES.map((r) => [r, routeLabel(r.re)]));

function buildFacts(): BuildFacts {
  return { gitCommit: 'shoal', runtimeVersion: `node${process.version.replace(/^v/, '')}`, buildTime: '' };
}

/** A stable daemon ID (UUID-shaped, like dockerd's) derived from the data directory. */
export function daemonIdOf(facts: DaemonFacts): string {
  const h = createHash('sha256').update(`shoal:${facts.dataDir}:${facts.hostname}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

type Listener = { host: string; server: http.Server; socketPath?: string; address?: string };

export function createApiServer(opts: ApiServerOptions): ApiServer {
  const logger = opts.logger ?? silentLogger;
  const { facts, backend } = opts;
  const commonHeaders: Record<string, string> = {
    'Api-Version': facts.apiVersion,
    Server: `Docker/${facts.version} (linux)`,
    'Docker-Experimental': 'false',
    Ostype: facts.os || 'linux',
  };
  const engineSpec = opts.engineSocket ?? facts.engine;
  // loaded only with an engine behind: its HTTP pool is memory a process-runtime daemon never uses
  const engine = engineSpec ? new (require('./engine-proxy') as { EngineProxy: typeof EngineProxy }).EngineProxy(engineSpec, logger, commonHeaders) : undefined;
  const deps: ServerDeps = { backend, facts, engine, logger, build: buildFacts(), daemonId: daemonIdOf(facts), now: opts.now ?? Date.now };

  const limits: ApiLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const listeners: Listener[] = [];
  const sockets = new Set<Duplex>();
  const inflight = new Set<AbortController>();
  let closed = false;

  function match(method: string, p: string): { route: Route; m: RegExpExecArray } | undefined {
    for (const r of ROUTES) {
      if (r.method !== method) continue;
      const m = r.re.exec(p);
      if (m) return { route: r, m };
    }
    return undefined;
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(commonHeaders)) res.setHeader(k, v);
    // The request's abort signal, made on first use: most requests never read it, and making one
    // (and aborting it with its DOMException when the response closes) cost ≈ 10 µs a request.
    let ac: AbortController | undefined;
    let gone = false;
    const signal = (): AbortSignal => {
      if (!ac) {
        ac = new AbortController();
        if (gone || closed) ac.abort();
        else inflight.add(ac);
      }
      return ac.signal;
    };
    res.on('close', () => {
      gone = true;
      if (!ac) return;
      ac.abort();
      inflight.delete(ac);
    });
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    let routeName = 'unmatched';
    if (opts.observeRequest) {
      const observe = opts.observeRequest;
      const started = performance.now();
      res.on('close', () => observe({ method, route: routeName, status: res.statusCode, seconds: (performance.now() - started) / 1000 }));
    }
    try {
      const url = parseRequestTarget(rawUrl);
      if (url.redirect !== undefined) {
        // gorilla/mux (dockerd's router) answers an unclean path with a redirect to the clean one.
        res.statusCode = 301;
        res.setHeader('Location', url.redirect);
        res.setHeader('Content-Length', 0);
        res.end();
        return;
      }
      const { version, path: p } = splitVersion(url.pathname);
      checkClientVersion(version, facts.minApiVersion, facts.apiVersion);
      const hit = match(method, p);
      if (hit) routeName = ROUTE_LABELS.get(hit.route) ?? 'unmatched';
      else if (isEnginePath(p)) routeName = 'engine';
      const ctx: Ctx = {
        req,
        res,
        method,
        path: p,
        rawUrl,
        query: url.query,
        version: version ?? facts.apiVersion,
        params: hit ? hit.m.slice(1).map(decode) : [],
        rawParams: hit ? hit.m.slice(1) : [],
        get signal() {
          return signal();
        },
        deps,
      };
      if (hit) {
        await hit.route.handler(ctx);
      } else if (isEnginePath(p)) {
        if (engine) await engine.forward(req, res, rawUrl);
        else answerWithoutEngine(ctx);
      } else {
        throw notFound('page not found');
      }
    } catch (err) {
      const status = statusOf(err);
      if (status >= 500) logger.warn({ err: (err as Error)?.message, method, url: rawUrl, status }, 'api request failed');
      else logger.debug({ err: (err as Error)?.message, method, url: rawUrl, status }, 'api request refused');
      // Unread request bodies must not be parsed as the next request.
      if (!req.complete) res.setHeader('Connection', 'close');
      sendError(res, err);
    }
  }

  function rawError(socket: Duplex, err: unknown): void {
    const text = errorBody(err) + '\n';
    const status = statusOf(err);
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n` +
        Object.entries(commonHeaders)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('') +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }

  function onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    try {
      const rawUrl = req.url ?? '/';
      const { version, path: p } = splitVersion(parseRequestTarget(rawUrl).pathname);
      checkClientVersion(version, facts.minApiVersion, facts.apiVersion);
      if (!isEnginePath(p)) throw notFound('page not found');
      if (!engine) throw unimplemented(noEngineMessage(deps));
      engine.upgrade(req, socket, head, rawUrl).catch((e: Error) => {
        logger.warn({ err: e.message }, 'upgrade passthrough failed');
        socket.destroy();
      });
    } catch (err) {
      rawError(socket, err);
    }
  }

  function makeServer(tls?: ApiTls): http.Server {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => void handle(req, res);
    // headersTimeout is enforced only when the server checks its connections: check often enough
    const base = { connectionsCheckingInterval: Math.max(100, Math.min(30_000, limits.headersTimeoutMs / 4)) };
    const server = tls
      ? https.createServer(
          {
            ...base,
            // as http.Server's sockets are: an upgraded stream whose client half-closes (the CLI's
            // CloseWrite sends close_notify) must still carry the engine's output back
            allowHalfOpen: true,
            cert: tls.cert,
            key: tls.key,
            ca: tls.verify ? tls.ca : undefined,
            requestCert: tls.verify,
            rejectUnauthorized: tls.verify,
            minVersion: 'TLSv1.2', // dockerd's server minimum
          },
          onRequest,
        )
      : http.createServer(base, onRequest);
    server.requestTimeout = 0; // image loads and builds may upload for long
    server.headersTimeout = limits.headersTimeoutMs;
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    server.maxConnections = limits.maxConnections;
    let dropped = 0;
    let dropLogged = 0;
    server.on('drop', () => {
      dropped++;
      // one line per burst, not one per refused connection
      const now = Date.now();
      if (now - dropLogged < 10_000) return;
      dropLogged = now;
      logger.warn({ maxConnections: limits.maxConnections, droppedSoFar: dropped }, 'API connection limit reached: closing new connections');
    });
    if (tls) {
      server.on('tlsClientError', (err: Error) => logger.debug({ err: err.message }, 'API TLS handshake refused'));
    }
    server.on('upgrade', onUpgrade);
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // headers that did not arrive within headersTimeout: 408, as Node itself answers
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
      logger.debug({ err: err.message }, 'client error');
    });
    return server;
  }

  async function listenOne(host: string): Promise<Listener> {
    if (host.startsWith('unix://')) {
      const server = makeServer();
      const socketPath = host.slice('unix://'.length);
      fs.mkdirSync(path.dirname(socketPath), { recursive: true });
      try {
        const st = fs.lstatSync(socketPath);
        if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket`);
        fs.unlinkSync(socketPath); // stale socket of an earlier run
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      fs.chmodSync(socketPath, 0o660);
      return { host, server, socketPath, address: `unix://${socketPath}` };
    }
    if (host.startsWith('tcp://')) {
      const u = new URL(host.replace(/^tcp:/, 'http:'));
      const hostname = u.hostname.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
      // dockerd's default ports: 2376 with TLS, 2375 without
      const port = u.port === '' ? (opts.tls ? 2376 : 2375) : Number(u.port);
      if (!opts.tls?.verify) await warnInsecure(host, hostname);
      const server = makeServer(opts.tls);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, hostname, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const a = server.address();
      const addr = a && typeof a === 'object' ? `tcp://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : host;
      return { host, server, address: addr };
    }
    throw new Error(`unsupported host ${host}: use unix:///path or tcp://host:port`);
  }

  /** dockerd's warnings (and pauses) for a TCP host that does not verify clients. */
  async function warnInsecure(host: string, hostname: string): Promise<void> {
    logger.warn({ host }, 'Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.');
    logger.warn({ host }, 'Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there!');
    logger.warn({ host }, '[DEPRECATION NOTICE] In future versions this will be a hard failure preventing the daemon from starting! Learn more at: https://docs.docker.com/go/api-security/');
    await pause(limits.insecurePauseMs);
    if (opts.tlsExplicit || isLoopback(hostname)) return;
    logger.warn({ host }, 'Binding to an IP address without --tlsverify is deprecated. Startup is intentionally being slowed down to show this message');
    logger.warn({ host }, 'Please consider generating tls certificates with client validation to prevent exposing unauthenticated root access to your network');
    logger.warn({ host }, "You can override this by explicitly specifying '--tls=false' or '--tlsverify=false'");
    logger.warn({ host }, 'Support for listening on TCP without authentication or explicit intent to run without authentication will be removed in the next release');
    await pause(limits.insecureNonLoopbackPauseMs);
  }

  return {
    async listen() {
      if (closed) throw new Error('api server is closed');
      for (const h of opts.hosts) {
        const l = await listenOne(h);
        listeners.push(l);
        logger.info({ host: l.address }, 'API listening');
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const ac of inflight) ac.abort();
      await Promise.all(
        listeners.map(
          (l) =>
            new Promise<void>((resolve) => {
              l.server.close(() => resolve());
              l.server.closeAllConnections();
            }),
        ),
      );
      for (const s of sockets) s.destroy();
      engine?.close();
      for (const l of listeners) {
        if (l.socketPath) {
          try {
            fs.unlinkSync(l.socketPath);
          } catch {
            /* already gone */
          }
        }
      }
    },
    addresses: () => listeners.map((l) => l.address ?? l.host),
  };
}

const pause = (ms: number) => (ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve());

/** A loopback address, or the literal `localhost` (dockerd resolves other names; we treat them as remote). */
function isLoopback(hostname: string): boolean {
  if (hostname === 'localhost') return true;
  if (net.isIPv4(hostname)) return hostname.startsWith('127.');
  if (net.isIPv6(hostname)) return hostname === '::1' || /^::ffff:127\./i.test(hostname);
  return false;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
