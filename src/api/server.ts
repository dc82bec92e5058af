import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { notFound, unimplemented } from '../lib/errors';
import type { ClusterBackend, DaemonFacts } from './backend';
import { checkClientVersion, parseRequestTarget, splitVersion, type BuildFacts } from './convert';
import { EngineProxy } from './engine-proxy';
import { errorBody, statusOf } from './errors';
import { sendError } from './http-util';
import { answerWithoutEngine, engineRoutes, isEnginePath, noEngineMessage } from './router/engine';
import { networkRoutes } from './router/networks';
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
}

export interface ApiServer {
  listen(): Promise<void>;
  close(): Promise<void>;
  /** Where it listens once listen() resolved: `unix:///…` or `tcp://host:port`. */
  addresses(): string[];
}

const ROUTES: Route[] = [...systemRoutes, ...swarmRoutes, ...serviceRoutes, ...networkRoutes, ...engineRoutes];

function buildFacts(): BuildFacts {
  return { gitCommit: 'shoal', runtimeVersion: `node${process.version.replace(/^v/, '')}`, buildTime: '' };
}

/** A stable daemon ID (UUID-shaped, like dockerd's) derived from the data directory. */
function daemonIdOf(facts: DaemonFacts): string {
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
  const engine = engineSpec ? new EngineProxy(engineSpec, logger, commonHeaders) : undefined;
  const deps: ServerDeps = { backend, facts, engine, logger, build: buildFacts(), daemonId: daemonIdOf(facts), now: opts.now ?? Date.now };

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
    const ac = new AbortController();
    inflight.add(ac);
    res.on('close', () => {
      ac.abort();
      inflight.delete(ac);
    });
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
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
        signal: ac.signal,
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

  function makeServer(): http.Server {
    const server = http.createServer((req, res) => {
      void handle(req, res);
    });
    server.requestTimeout = 0; // image loads and builds may upload for long
    server.on('upgrade', onUpgrade);
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    server.on('clientError', (err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
      logger.debug({ err: err.message }, 'client error');
    });
    return server;
  }

  async function listenOne(host: string): Promise<Listener> {
    const server = makeServer();
    if (host.startsWith('unix://')) {
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
      const port = u.port === '' ? 2375 : Number(u.port);
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

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
