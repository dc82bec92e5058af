import type { NodeSpec, SwarmSpec } from '../../types';
import type { InitRequest, JoinRequest } from '../backend';
import { ACCEPTED_FILTERS, boolValue, canonicalizeFields, checkFilters, parseFilters, parseObjectVersion, stripAll, stripInternal } from '../convert';
import { readJsonObject, sendEmpty, sendJson } from '../http-util';
import { checkBody } from '../validate/body';
import { invalidArgument } from '../../lib/errors';
import { route, type Ctx, type Route } from './types';

// /swarm and /nodes: parse, call the backend, shape the answer.

async function inspectSwarm(ctx: Ctx): Promise<void> {
  sendJson(ctx.res, 200, stripInternal(await ctx.deps.backend.inspectSwarm()));
}

async function init(ctx: Ctx): Promise<void> {
  const body = canonicalizeFields(await readJsonObject<InitRequest>(ctx.req));
  checkBody('SwarmInitRequest', body);
  const nodeId = await ctx.deps.backend.init(body);
  sendJson(ctx.res, 200, nodeId);
}

async function join(ctx: Ctx): Promise<void> {
  const body = canonicalizeFields(await readJsonObject<JoinRequest>(ctx.req));
  checkBody('SwarmJoinRequest', body);
  await ctx.deps.backend.join(body);
  sendEmpty(ctx.res);
}

async function leave(ctx: Ctx): Promise<void> {
  await ctx.deps.backend.leave(boolValue(ctx.query.get('force')));
  sendEmpty(ctx.res);
}

async function update(ctx: Ctx): Promise<void> {
  const version = parseObjectVersion(ctx.query.get('version'), 'swarm');
  const spec = canonicalizeFields(await readJsonObject<SwarmSpec>(ctx.req));
  checkBody('SwarmSpec', spec);
  await ctx.deps.backend.updateSwarm(version, spec, {
    rotateWorkerToken: boolValue(ctx.query.get('rotateWorkerToken')),
    rotateManagerToken: boolValue(ctx.query.get('rotateManagerToken')),
    rotateManagerUnlockKey: boolValue(ctx.query.get('rotateManagerUnlockKey')),
  });
  sendEmpty(ctx.res);
}

async function unlockKey(ctx: Ctx): Promise<void> {
  sendJson(ctx.res, 200, { UnlockKey: await ctx.deps.backend.unlockKey() });
}

async function unlock(ctx: Ctx): Promise<void> {
  // the body is the swagger's inline SwarmUnlockRequest: one string field
  const body = canonicalizeFields(await readJsonObject<{ UnlockKey?: unknown }>(ctx.req));
  if (body.UnlockKey !== undefined && typeof body.UnlockKey !== 'string') throw invalidArgument('json: cannot unmarshal ' + typeof body.UnlockKey + ' into Go struct field UnlockRequest.UnlockKey of type string');
  await ctx.deps.backend.unlock(body.UnlockKey ?? '');
  sendEmpty(ctx.res);
}

async function listNodes(ctx: Ctx): Promise<void> {
  const nodes = await ctx.deps.backend.listNodes(checkFilters(parseFilters(ctx.query.get('filters')), ACCEPTED_FILTERS.nodes));
  sendJson(ctx.res, 200, stripAll(nodes));
}

async function getNode(ctx: Ctx): Promise<void> {
  sendJson(ctx.res, 200, stripInternal(await ctx.deps.backend.getNode(ctx.params[0])));
}

async function updateNode(ctx: Ctx): Promise<void> {
  const version = parseObjectVersion(ctx.query.get('version'), 'node');
  const spec = canonicalizeFields(await readJsonObject<NodeSpec>(ctx.req));
  checkBody('NodeSpec', spec);
  await ctx.deps.backend.updateNode(ctx.params[0], version, spec);
  sendEmpty(ctx.res);
}

async function removeNode(ctx: Ctx): Promise<void> {
  await ctx.deps.backend.removeNode(ctx.params[0], boolValue(ctx.query.get('force')));
  sendEmpty(ctx.res);
}

export const swarmRoutes: Route[] = [
  route('GET', /^\/swarm$/, inspectSwarm),
  route('POST', /^\/swarm\/init$/, init),
  route('POST', /^\/swarm\/join$/, join),
  route('POST', /^\/swarm\/leave$/, leave),
  route('POST', /^\/swarm\/update$/, update),
  route('GET', /^\/swarm\/unlockkey$/, unlockKey),
  route('POST', /^\/swarm\/unlock$/, unlock),
  route('GET', /^\/nodes$/, listNodes),
  route('GET', /^\/nodes\/([^/]+)$/, getNode),
  route('POST', /^\/nodes\/([^/]+)\/update$/, updateNode),
  route('DELETE', /^\/nodes\/([^/]+)$/, removeNode),
];
