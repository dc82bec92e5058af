import type { ConfigSpec, SecretSpec } from '../../types';
import { canonicalizeFields, checkFilters, parseFilters, parseObjectVersion, SECRET_LIST_FILTERS } from '../convert';
import { readJsonObject, sendEmpty, sendJson } from '../http-util';
import { checkBody } from '../validate/body';
import { route, type Ctx, type Route } from './types';

// /secrets and /configs: the same five operations on two object kinds. The backend never hands out
// a secret's data; a config's is shown as Docker shows it (base64 in Spec.Data).

async function createSecret(ctx: Ctx): Promise<void> {
  const spec = canonicalizeFields(await readJsonObject<SecretSpec>(ctx.req));
  checkBody('SecretSpec', spec);
  sendJson(ctx.res, 201, { ID: await ctx.deps.backend.createSecret(spec) });
}

async function createConfig(ctx: Ctx): Promise<void> {
  const spec = canonicalizeFields(await readJsonObject<ConfigSpec>(ctx.req));
  checkBody('ConfigSpec', spec);
  sendJson(ctx.res, 201, { ID: await ctx.deps.backend.createConfig(spec) });
}

const filtersOf = (ctx: Ctx) => checkFilters(parseFilters(ctx.query.get('filters')), SECRET_LIST_FILTERS);

async function updateSecret(ctx: Ctx): Promise<void> {
  const version = parseObjectVersion(ctx.query.get('version'), 'secret');
  const spec = canonicalizeFields(await readJsonObject<SecretSpec>(ctx.req));
  checkBody('SecretSpec', spec);
  await ctx.deps.backend.updateSecret(ctx.params[0]!, version, spec);
  sendEmpty(ctx.res, 200);
}

async function updateConfig(ctx: Ctx): Promise<void> {
  const version = parseObjectVersion(ctx.query.get('version'), 'config');
  const spec = canonicalizeFields(await readJsonObject<ConfigSpec>(ctx.req));
  checkBody('ConfigSpec', spec);
  await ctx.deps.backend.updateConfig(ctx.params[0]!, version, spec);
  sendEmpty(ctx.res, 200);
}

export const secretRoutes: Route[] = [
  route('GET', /^\/secrets\/?$/, async (ctx) => sendJson(ctx.res, 200, await ctx.deps.backend.listSecrets(filtersOf(ctx)))),
  route('POST', /^\/secrets\/create$/, createSecret),
  route('GET', /^\/secrets\/([^/]+)$/, async (ctx) => sendJson(ctx.res, 200, await ctx.deps.backend.getSecret(ctx.params[0]!))),
  route('DELETE', /^\/secrets\/([^/]+)$/, async (ctx) => {
    await ctx.deps.backend.removeSecret(ctx.params[0]!);
    sendEmpty(ctx.res, 204);
  }),
  route('POST', /^\/secrets\/([^/]+)\/update$/, updateSecret),
  route('GET', /^\/configs\/?$/, async (ctx) => sendJson(ctx.res, 200, await ctx.deps.backend.listConfigs(filtersOf(ctx)))),
  route('POST', /^\/configs\/create$/, createConfig),
  route('GET', /^\/configs\/([^/]+)$/, async (ctx) => sendJson(ctx.res, 200, await ctx.deps.backend.getConfig(ctx.params[0]!))),
  route('DELETE', /^\/configs\/([^/]+)$/, async (ctx) => {
    await ctx.deps.backend.removeConfig(ctx.params[0]!);
    sendEmpty(ctx.res, 204);
  }),
  route('POST', /^\/configs\/([^/]+)\/update$/, updateConfig),
];
