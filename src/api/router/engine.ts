import { notFound, unimplemented } from '../../lib/errors';
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
 * GET /distribution/{name}/json. There is no registry client here: answer at once from the
 * engine's local image (its ID stands in for the manifest digest), or fail fast so the CLI
 * warns and goes on without pinning a digest.
 */
async function distributionInspect(ctx: Ctx): Promise<void> {
  const rawName = ctx.rawParams[0];
  const name = safeDecode(rawName);
  const engine = ctx.deps.engine;
  if (engine) {
    const r = await engine.request('GET', `/images/${rawName}/json`, { timeoutMs: 5000 }).catch(() => undefined);
    const img = r && r.status === 200 && r.body && typeof r.body === 'object' ? (r.body as Record<string, unknown>) : undefined;
    if (img && typeof img.Id === 'string') {
      sendJson(ctx.res, 200, {
        Descriptor: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: img.Id, size: 0 },
        Platforms: [{ architecture: String(img.Architecture ?? 'amd64'), os: String(img.Os ?? 'linux') }],
      });
      return;
    }
  }
  throw notFound(`no such image: ${name}: not available locally and this daemon does not query registries`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export const engineRoutes: Route[] = [route('GET', /^\/distribution\/(.+)\/json$/, distributionInspect)];
