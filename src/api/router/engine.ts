import { unimplemented } from '../../lib/errors';
import { sendJson } from '../http-util';
import { route, type Ctx, type Route, type ServerDeps } from './types';

// Paths that belong to the local container engine. With an engine configured they are passed
// through untouched (src/api/engine-proxy.ts); without one, the few lists the CLI needs answer
// empty and everything else says clearly that there is no engine.

const ENGINE_PREFIXES = ['/containers', '/images', '/exec', '/volumes', '/networks', '/distribution', '/build', '/system', '/plugins', '/commit', '/auth', '/session', '/grpc'];

export const isEnginePath = (path: string): boolean => ENGINE_PREFIXES.some((p) => path === p || path.startsWith(p + '/'));

export function noEngineMessage(deps: Pick<ServerDeps, 'facts'>): string {
  return deps.facts.runtime === 'process'
    ? 'no container engine: this node runs tasks on the process runtime'
    : 'no container engine: this daemon was started without --engine';
}

/** Answers for engine paths when no engine is configured (undefined: not one of them). */
const EMPTY_ANSWERS: { method: string; re: RegExp; body: unknown }[] = [
  { method: 'GET', re: /^\/containers\/json$/, body: [] },
  { method: 'GET', re: /^\/images\/json$/, body: [] },
  { method: 'GET', re: /^\/networks$/, body: [] },
  { method: 'GET', re: /^\/volumes$/, body: { Volumes: [], Warnings: null } },
  { method: 'GET', re: /^\/system\/df$/, body: { LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [] } },
];

export function answerWithoutEngine(ctx: Ctx): void {
  const hit = EMPTY_ANSWERS.find((a) => a.method === ctx.method && a.re.test(ctx.path));
  if (hit) {
    sendJson(ctx.res, 200, hit.body);
    return;
  }
  throw unimplemented(noEngineMessage(ctx.deps));
}

/**
 * How long a registry look-up through the engine may take. The CLI waits for this answer before
 * `service create/update` goes on, so an engine that cannot reach a registry (no route, DNS that
 * never answers) must not hold it: past the bound the CLI gets an error, keeps the tag and warns.
 */
export const REGISTRY_LOOKUP_TIMEOUT_MS = 8000;

/**
 * GET /distribution/{name}/json, as dockerd answers it: the registry's manifest digest and
 * platforms, asked through this node's engine (which talks to the registry, with the client's
 * X-Registry-Auth). Never a local image ID: that ID names no manifest, and another node's engine
 * has no image by it, so pinning it would make every task on every other node fail "No such image".
 * The engine's answer (success or its registry error) passes as it is; on the process runtime
 * there is nothing to ask, which is dockerd's answer with no registry reachable: an error, at once.
 */
async function distributionInspect(ctx: Ctx): Promise<void> {
  const rawName = ctx.rawParams[0];
  const name = safeDecode(rawName);
  const engine = ctx.deps.engine;
  if (!engine) {
    sendJson(ctx.res, 500, { message: `no registry access for ${name}: this node runs tasks on the process runtime and has no engine to ask the registry` });
    return;
  }
  const auth = ctx.req.headers['x-registry-auth'];
  const headers: Record<string, string> = typeof auth === 'string' ? { 'X-Registry-Auth': auth } : {};
  let r: { status: number; body: unknown };
  try {
    r = await engine.request('GET', `/distribution/${rawName}/json`, { timeoutMs: REGISTRY_LOOKUP_TIMEOUT_MS, headers, signal: ctx.signal });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    sendJson(ctx.res, 500, { message: `registry lookup of ${name} through the engine failed: ${why}` });
    return;
  }
  const body = r.body !== undefined ? r.body : { message: `the engine answered ${r.status} with no JSON body to the registry lookup of ${name}` };
  sendJson(ctx.res, r.status, body);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export const engineRoutes: Route[] = [route('GET', /^\/distribution\/(.+)\/json$/, distributionInspect)];
