import { unavailable } from '../../lib/errors';
import type { EngineEvent } from '../backend';
import { infoBody, INACTIVE_SWARM, parseFilters, parseTimestamp, pingSwarmHeader, stripInternal, versionBody, type SwarmInfoLike } from '../convert';
import { sendJson } from '../http-util';
import { writeChunk, whenAborted } from './stream';
import { route, type Ctx, type Route, type ServerDeps } from './types';

const PING_SWARM_TIMEOUT_MS = 2000;

/** The backend's SwarmInfo with what must never leave the daemon removed (cluster internals, join tokens). */
async function swarmInfo(deps: ServerDeps): Promise<SwarmInfoLike> {
  const s = await deps.backend.swarmInfo();
  if (!s.Cluster) return s;
  const cluster = stripInternal(s.Cluster as typeof s.Cluster & { internal?: unknown; JoinTokens?: unknown });
  delete (cluster as { JoinTokens?: unknown }).JoinTokens;
  return { ...s, Cluster: cluster };
}

async function ping(ctx: Ctx): Promise<void> {
  let state = INACTIVE_SWARM;
  let timer: NodeJS.Timeout | undefined;
  try {
    state = await Promise.race([
      ctx.deps.backend.swarmInfo(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(unavailable('swarm state unavailable')), PING_SWARM_TIMEOUT_MS);
      }),
    ]);
  } catch (e) {
    ctx.deps.logger.debug({ err: (e as Error).message }, 'ping: swarm state unavailable');
  } finally {
    clearTimeout(timer);
  }
  const { res } = ctx;
  res.statusCode = 200;
  res.setHeader('Swarm', pingSwarmHeader(state));
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  if (ctx.method === 'HEAD') {
    res.setHeader('Content-Length', 0);
    res.end();
  } else {
    res.setHeader('Content-Length', 2);
    res.end('OK');
  }
}

async function version(ctx: Ctx): Promise<void> {
  sendJson(ctx.res, 200, versionBody(ctx.deps.facts, ctx.deps.build));
}

async function info(ctx: Ctx): Promise<void> {
  const { deps } = ctx;
  const [swarm, engineInfo] = await Promise.all([
    swarmInfo(deps).catch((e: Error) => ({ ...INACTIVE_SWARM, LocalNodeState: 'error', Error: e.message })),
    deps.engine
      ? deps.engine
          .request('GET', '/info', { timeoutMs: 2000 })
          .then((r) => (r.status === 200 && r.body && typeof r.body === 'object' ? (r.body as Record<string, unknown>) : undefined))
          .catch(() => undefined)
      : Promise.resolve(undefined),
  ]);
  sendJson(ctx.res, 200, infoBody({ facts: deps.facts, swarm, daemonId: deps.daemonId, now: deps.now(), engineInfo }));
}

/**
 * GET /events: swarm-scoped events from the backend merged with the engine's own (local) events.
 * A `scope` filter picks one side. The stream stays open until the client leaves or `until` passes.
 */
async function events(ctx: Ctx): Promise<void> {
  const { deps, res, query } = ctx;
  const since = parseTimestamp(query.get('since'), 'since');
  const until = parseTimestamp(query.get('until'), 'until');
  const filters = parseFilters(query.get('filters'));
  const scopes = filters.scope;
  const wantSwarm = !scopes || scopes.length === 0 || scopes.includes('swarm');
  const wantLocal = !scopes || scopes.length === 0 || scopes.includes('local');

  const ac = new AbortController();
  const stop = () => ac.abort();
  ctx.signal.addEventListener('abort', stop, { once: true });
  let untilTimer: NodeJS.Timeout | undefined;
  if (until !== undefined) {
    const wait = until * 1000 - deps.now();
    if (wait <= 0) {
      // Only history is wanted: the sources end by themselves; guard against ones that do not.
      untilTimer = setTimeout(stop, 1000);
    } else untilTimer = setTimeout(stop, wait);
  }

  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json');
  res.flushHeaders();

  const sources: Promise<void>[] = [];
  if (wantSwarm) {
    sources.push(
      (async () => {
        try {
          for await (const ev of deps.backend.events({ since, until, filters }, ac.signal)) {
            if (ac.signal.aborted) break;
            await writeChunk(res, JSON.stringify(ev satisfies EngineEvent) + '\n', ac.signal);
          }
        } catch (e) {
          // A node outside a swarm has no swarm events: the stream goes on with the engine's.
          if (!ac.signal.aborted) deps.logger.debug({ err: (e as Error).message }, 'events: swarm events unavailable');
        }
      })(),
    );
  }
  if (wantLocal && deps.engine) {
    const engine = deps.engine;
    const q = new URLSearchParams();
    for (const k of ['since', 'until', 'filters']) {
      const v = query.get(k);
      if (v) q.set(k, v);
    }
    const qs = q.toString();
    sources.push(
      engine
        .streamLines('/events' + (qs ? `?${qs}` : ''), ac.signal, (line) => {
          if (!ac.signal.aborted && !res.destroyed) res.write(line + '\n');
        })
        .catch((e: Error) => {
          if (!ac.signal.aborted) deps.logger.warn({ err: e.message }, 'events: engine events unavailable');
        }),
    );
  }
  await Promise.all(sources);
  // Docker keeps an events stream open until the client leaves, unless `until` bounds it.
  if (until === undefined || until * 1000 > deps.now()) await whenAborted(ac.signal);
  clearTimeout(untilTimer);
  ctx.signal.removeEventListener('abort', stop);
  if (!res.destroyed) res.end();
}

export const systemRoutes: Route[] = [
  route('GET', /^\/_ping$/, ping),
  route('HEAD', /^\/_ping$/, ping),
  route('GET', /^\/version$/, version),
  route('GET', /^\/info$/, info),
  route('GET', /^\/events$/, events),
];
