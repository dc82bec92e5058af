import { createHash } from 'node:crypto';
import { isKind, notFound, unimplemented } from '../../lib/errors';
import type { Network, NetworkCreateRequest } from '../../types';
import type { ClusterBackend } from '../backend';
import { canonicalizeFields, networkOnWire, networkServices, parseFilters, validateNetworkFilters, validatePruneFilters, type NetworkPeer, type NetworkResource, type NetworkServiceInfo } from '../convert';
import { readJsonObject, sendEmpty, sendJson } from '../http-util';
import { noEngineMessage } from './engine';
import { route, type Ctx, type Route } from './types';

// /networks: swarm networks (overlay, scope swarm) live in the cluster store; every other network is
// the local engine's, passed through. Lists merge both, as dockerd does on a manager.

const endpointId = (key: string) => createHash('sha256').update(`shoal-endpoint:${key}`).digest('hex');

async function onWire(backend: ClusterBackend, nets: Network[]): Promise<NetworkResource[]> {
  const view = await backend.networkView();
  return nets.map((n) => {
    if (!view) return networkOnWire(n);
    const addrs = n.internal?.nodeAddrs ?? {};
    const peers: NetworkPeer[] = view.nodes.filter((x) => addrs[x.ID]).map((x) => ({ Name: x.Name, IP: x.Addr }));
    return networkOnWire(n, { nodeId: view.nodeId, endpointId, peers });
  });
}

/** `network inspect --verbose`: the services and tasks on a swarm network (convert's networkServices). */
async function verboseServices(ctx: Ctx, n: Network): Promise<Record<string, NetworkServiceInfo>> {
  const b = ctx.deps.backend;
  const [services, tasks, nodes] = await Promise.all([b.listServices({}, false), b.listTasks({}), b.listNodes({})]);
  const addrs = new Map(nodes.map((x) => [x.ID, x.Status.Addr]));
  return networkServices(n, { services, tasks, nodeAddr: (id) => addrs.get(id), endpointId });
}

async function engineJson(ctx: Ctx, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown } | undefined> {
  const engine = ctx.deps.engine;
  if (!engine) return undefined;
  return engine.request(method, path, { body, timeoutMs: 30_000, signal: ctx.signal });
}

async function listNetworks(ctx: Ctx): Promise<void> {
  const filters = parseFilters(ctx.query.get('filters'));
  validateNetworkFilters(filters);
  const swarm = (await ctx.deps.backend.listNetworks(filters)) ?? [];
  const qs = ctx.rawUrl.includes('?') ? ctx.rawUrl.slice(ctx.rawUrl.indexOf('?')) : '';
  const local = await engineJson(ctx, 'GET', `/networks${qs}`);
  if (local && local.status !== 200) {
    sendJson(ctx.res, local.status, local.body);
    return;
  }
  const localList = Array.isArray(local?.body) ? (local.body as { Name?: string }[]) : [];
  const swarmNames = new Set(swarm.map((n) => n.Spec.Name));
  // A swarm network the engine has instantiated locally is shown once, as the swarm's.
  sendJson(ctx.res, 200, [...localList.filter((n) => !(swarmNames.has(n.Name ?? '') && (n as { Scope?: string }).Scope === 'swarm')), ...(await onWire(ctx.deps.backend, swarm))]);
}

async function inspectNetwork(ctx: Ctx): Promise<void> {
  const ref = ctx.params[0]!;
  // `scope` narrows the look-up as in moby: a swarm network is not found with scope=local (or global).
  const scope = ctx.query.get('scope');
  if (scope && scope !== 'swarm') {
    if (!ctx.deps.engine) throw notFound(`network ${ref} not found`);
    await ctx.deps.engine.forward(ctx.req, ctx.res, ctx.rawUrl);
    return;
  }
  try {
    const n = await ctx.deps.backend.getNetwork(ref);
    const out = (await onWire(ctx.deps.backend, [n]))[0]!;
    if (ctx.query.get('verbose') === 'true' || ctx.query.get('verbose') === '1') out.Services = await verboseServices(ctx, n);
    sendJson(ctx.res, 200, out);
    return;
  } catch (e) {
    // Not a swarm network (or not a manager): the engine's, if there is one.
    if (!isKind(e, 'NotFound') && !isKind(e, 'Unavailable')) throw e;
    if (!ctx.deps.engine) throw e;
  }
  await ctx.deps.engine.forward(ctx.req, ctx.res, ctx.rawUrl);
}

const isSwarmRequest = (req: NetworkCreateRequest): boolean => req.Driver === 'overlay' || req.Scope === 'swarm';

async function createNetwork(ctx: Ctx): Promise<void> {
  const req = canonicalizeFields(await readJsonObject<NetworkCreateRequest>(ctx.req));
  if (isSwarmRequest(req)) {
    const id = await ctx.deps.backend.createNetwork(req);
    sendJson(ctx.res, 201, { Id: id, Warning: '' });
    return;
  }
  const r = await engineJson(ctx, 'POST', '/networks/create', req);
  if (!r) throw unimplemented(noEngineMessage(ctx.deps));
  sendJson(ctx.res, r.status, r.body);
}

async function removeNetwork(ctx: Ctx): Promise<void> {
  try {
    await ctx.deps.backend.removeNetwork(ctx.params[0]!);
    sendEmpty(ctx.res, 204);
    return;
  } catch (e) {
    if (!ctx.deps.engine || (!isKind(e, 'NotFound') && !isKind(e, 'Unavailable'))) throw e;
  }
  await ctx.deps.engine.forward(ctx.req, ctx.res, ctx.rawUrl);
}

async function pruneNetworks(ctx: Ctx): Promise<void> {
  const filters = parseFilters(ctx.query.get('filters'));
  const until = validatePruneFilters(filters, Date.now());
  // the store compares against a cut-off in epoch ms, whatever form the client sent
  const removed = await ctx.deps.backend.pruneNetworks({ ...filters, ...(until !== undefined ? { until: [String(until)] } : {}) });
  const qs = ctx.rawUrl.includes('?') ? ctx.rawUrl.slice(ctx.rawUrl.indexOf('?')) : '';
  const local = await engineJson(ctx, 'POST', `/networks/prune${qs}`);
  const localRemoved = (local?.body as { NetworksDeleted?: string[] } | undefined)?.NetworksDeleted ?? [];
  sendJson(ctx.res, 200, { NetworksDeleted: [...localRemoved, ...removed] });
}

export const networkRoutes: Route[] = [
  route('GET', /^\/networks\/?$/, listNetworks),
  route('POST', /^\/networks\/create$/, createNetwork),
  route('POST', /^\/networks\/prune$/, pruneNetworks),
  route('GET', /^\/networks\/([^/]+)$/, inspectNetwork),
  route('DELETE', /^\/networks\/([^/]+)$/, removeNetwork),
];
