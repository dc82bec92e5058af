// `--dashboard-addr host:port`: the web dashboard. Static assets (src/dashboard/static), a JSON
// snapshot, one server-sent-event stream per page (the live view from hub.ts and the swarm event
// stream), service logs following, and three actions (scale, node availability, rollback) that go
// through the same typed backend calls as the Engine API. With the API's TLS material it serves
// HTTPS and, under --tlsverify, accepts only clients with a certificate signed by the API's CA.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { ClusterBackend, LogRequest } from '../api/backend';
import type { ApiTls } from '../api/server';
import { messageOf } from '../api/errors';
import { readJsonObject, sendError, sendJson } from '../api/http-util';
import { invalidArgument, notFound, permissionDenied, unavailable } from '../lib/errors';
import { parseDashboardAddr } from './addr';
import { availabilitySpec, scaledSpec, sseFrame } from './core/view';
import { closeHttpServer, listenTcp } from '../sys/listen';
import { ViewHub, type ClusterChanges } from './hub';

/** The backend calls the dashboard makes: reads for the view, logs, events, and the three actions. */
export type DashboardBackend = Pick<
  ClusterBackend,
  'listNodes' | 'listServices' | 'listTasks' | 'getService' | 'updateService' | 'getNode' | 'updateNode' | 'serviceLogs' | 'events'
>;

export interface DashboardOptions {
  addr: string;
  backend: DashboardBackend;
  changes: ClusterChanges;
  /** The API's TLS (cfg.tls loaded): HTTPS, and client certificates checked when `verify`. */
  tls?: ApiTls;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void; debug(o: object, m: string): void };
  /** Open event streams (pages and log followers); more are answered 503. */
  maxStreams?: number;
  /** A comment line on every open stream this often, so idle proxies and phones keep it open. */
  keepAliveMs?: number;
}

export interface DashboardServer {
  listen(): Promise<void>;
  close(): Promise<void>;
  /** `host:port` once listening (port 0 picks one). */
  address(): string;
}

/** Where the page's files live: the repo's src/dashboard/static (from dist/src/dashboard, three levels up). */
export const STATIC_DIR = path.resolve(__dirname, '..', '..', '..', 'src', 'dashboard', 'static');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The assets, read once at start: only these names are ever served (no path reaches the file system). */
function loadAssets(dir: string): Map<string, { type: string; body: Buffer }> {
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const name of fs.readdirSync(dir)) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (type) assets.set(`/${name}`, { type, body: fs.readFileSync(path.join(dir, name)) });
  }
  const index = assets.get('/index.html');
  if (!index) throw new Error(`dashboard: ${dir}/index.html is missing`);
  assets.set('/', index);
  return assets;
}

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

const ID = '([A-Za-z0-9_.-]+)';
const ROUTES = {
  scale: new RegExp(`^/api/services/${ID}/scale$`),
  rollback: new RegExp(`^/api/services/${ID}/rollback$`),
  logs: new RegExp(`^/api/services/${ID}/logs$`),
  availability: new RegExp(`^/api/nodes/${ID}/availability$`),
};

/** Lines of history a log follower starts with, at most. */
const MAX_TAIL = 1000;
/** Swarm events a new page is sent from the recent history (seconds back). */
const EVENT_HISTORY_S = 15 * 60;

export function createDashboardServer(o: DashboardOptions): DashboardServer {
  const { host, port } = parseDashboardAddr(o.addr);
  const assets = loadAssets(STATIC_DIR);
  const hub = new ViewHub(o.backend, o.changes);
  const maxStreams = o.maxStreams ?? 256;
  const keepAliveMs = o.keepAliveMs ?? 15_000;
  const streams = new Set<AbortController>();

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const p = url.pathname;
    try {
      if (method === 'GET' || method === 'HEAD') {
        const asset = assets.get(p);
        if (asset) {
          res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length });
          res.end(method === 'HEAD' ? undefined : asset.body);
          return;
        }
        if (p === '/api/view') return sendJson(res, 200, await hub.current());
        if (p === '/api/stream') return await openStream(req, res, (send, signal) => pageStream(send, signal));
        const logs = ROUTES.logs.exec(p);
        if (logs) return await openStream(req, res, (send, signal) => logStream(logs[1]!, url.searchParams.get('tail'), send, signal));
        throw notFound('page not found');
      }
      if (method === 'POST') {
        checkSameOrigin(req);
        const scale = ROUTES.scale.exec(p);
        if (scale) return sendJson(res, 200, await doScale(scale[1]!, await readJsonObject<{ Replicas?: unknown }>(req)));
        const rollback = ROUTES.rollback.exec(p);
        if (rollback) return sendJson(res, 200, await doRollback(rollback[1]!));
        const availability = ROUTES.availability.exec(p);
        if (availability) return sendJson(res, 200, await doAvailability(availability[1]!, await readJsonObject<{ Availability?: unknown }>(req)));
        throw notFound('page not found');
      }
      res.setHeader('Allow', 'GET, HEAD, POST');
      throw Object.assign(invalidArgument(`method ${method} not allowed`), { httpStatus: 405 });
    } catch (err) {
      if (!req.complete) res.setHeader('Connection', 'close');
      o.log.debug({ err: messageOf(err), method, path: p }, 'dashboard request refused');
      sendError(res, err);
    }
  }

  /**
   * A POST must be JSON (moby's CheckForJSON text) and, when the browser names its origin, come
   * from this page: a form or script on another site can send neither, so it cannot act here.
   */
  function checkSameOrigin(req: http.IncomingMessage): void {
    const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (ct !== 'application/json') throw invalidArgument(`unsupported Content-Type header (${req.headers['content-type'] ?? ''}): must be 'application/json'`);
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let originHost = '';
      try {
        originHost = new URL(origin).host;
      } catch {
        /* "null" and other opaque origins */
      }
      if (originHost !== req.headers.host) throw permissionDenied(`dashboard: cross-origin request from ${origin} refused`);
    }
  }

  async function doScale(ref: string, body: { Replicas?: unknown }): Promise<{ Warnings: string[] | null }> {
    const svc = await o.backend.getService(ref, false);
    const r = await o.backend.updateService(svc.ID, svc.Version.Index, scaledSpec(svc, body.Replicas), { rollback: false });
    return { Warnings: r.Warnings?.length ? r.Warnings : null };
  }

  async function doRollback(ref: string): Promise<{ Warnings: string[] | null }> {
    // as `docker service rollback`: the current spec with rollback=previous
    const svc = await o.backend.getService(ref, false);
    const r = await o.backend.updateService(svc.ID, svc.Version.Index, svc.Spec, { rollback: true });
    return { Warnings: r.Warnings?.length ? r.Warnings : null };
  }

  async function doAvailability(ref: string, body: { Availability?: unknown }): Promise<Record<string, never>> {
    const node = await o.backend.getNode(ref);
    await o.backend.updateNode(node.ID, node.Version.Index, availabilitySpec(node, body.Availability));
    return {};
  }

  type Send = (frame: string) => void;

  /** Answers with an event stream and runs `body` until the page goes or the server closes. */
  async function openStream(req: http.IncomingMessage, res: http.ServerResponse, body: (send: Send, signal: AbortSignal) => Promise<void>): Promise<void> {
    if (streams.size >= maxStreams) throw unavailable(`dashboard: too many open streams (${maxStreams})`);
    const ac = new AbortController();
    streams.add(ac);
    res.on('close', () => ac.abort());
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    const send: Send = (frame) => {
      if (!res.writableEnded) res.write(frame);
    };
    const ping = setInterval(() => send(': keep-alive\n\n'), keepAliveMs);
    try {
      await body(send, ac.signal);
    } catch (err) {
      if (!ac.signal.aborted) send(sseFrame('failure', { message: messageOf(err) }));
    } finally {
      clearInterval(ping);
      streams.delete(ac);
      res.end();
    }
  }

  /** A page's stream: the view and its patches, and the swarm events (recent ones first). */
  async function pageStream(send: Send, signal: AbortSignal): Promise<void> {
    const leave = await hub.join(send);
    try {
      const since = Math.floor(Date.now() / 1000) - EVENT_HISTORY_S;
      try {
        for await (const ev of o.backend.events({ since, filters: {} }, signal)) send(sseFrame('event', ev));
      } catch (err) {
        if (!signal.aborted) send(sseFrame('events-failure', { message: messageOf(err) }));
      }
      // the view keeps flowing after the events end (a node that was not a manager yet)
      if (!signal.aborted) await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    } finally {
      leave();
    }
  }

  /** `docker service logs --follow --timestamps --tail N SERVICE`, one frame per line. */
  async function logStream(ref: string, tailParam: string | null, send: Send, signal: AbortSignal): Promise<void> {
    const tail = tailParam === null || tailParam === '' ? 100 : Number(tailParam);
    if (!Number.isInteger(tail) || tail < 0) throw invalidArgument(`invalid tail value ${JSON.stringify(tailParam)}: want a non-negative integer`);
    const req: LogRequest = { follow: true, tail: Math.min(tail, MAX_TAIL), timestamps: true, stdout: true, stderr: true, details: false };
    for await (const line of o.backend.serviceLogs(ref, req, signal)) {
      send(sseFrame('log', { time: line.time, stream: line.stream, taskId: line.taskId, nodeId: line.nodeId, text: Buffer.from(line.data).toString('utf8').replace(/\n$/, '') }));
    }
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => void handle(req, res);
  const server = o.tls
    ? https.createServer(
        {
          cert: o.tls.cert,
          key: o.tls.key,
          ca: o.tls.verify ? o.tls.ca : undefined,
          requestCert: o.tls.verify,
          rejectUnauthorized: o.tls.verify,
          minVersion: 'TLSv1.2',
        },
        onRequest,
      )
    : http.createServer(onRequest);
  server.headersTimeout = 60_000;
  server.requestTimeout = 0; // event streams stay open
  server.keepAliveTimeout = 30_000;
  server.maxConnections = maxStreams + 64;
  if (o.tls) server.on('tlsClientError', (err: Error) => o.log.debug({ err: err.message }, 'dashboard TLS handshake refused'));
  let bound = o.addr;

  return {
    async listen() {
      bound = await listenTcp(server, host, port);
    },
    async close() {
      hub.close();
      for (const ac of streams) ac.abort();
      await closeHttpServer(server);
    },
    address: () => bound,
  };
}
