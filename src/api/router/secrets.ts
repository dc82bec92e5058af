import type { ConfigSpec, SecretSpec } from '../../types';
import type { ClusterBackend } from '../backend';
import { canonicalizeFields, checkFilters, parseFilters, parseObjectVersion, SECRET_LIST_FILTERS } from '../convert';
import { readJsonObject, sendEmpty, sendJson } from '../http-util';
import { checkBody } from '../validate/body';
import { route, type Ctx, type Route } from './types';

// /secrets and /configs: the same five operations on two object kinds. The backend never hands out
// a secret's data; a config's is shown as Docker shows it (base64 in Spec.Data).

interface KindOps {
  path: 'secrets' | 'configs';
  body: 'SecretSpec' | 'ConfigSpec';
  what: 'secret' | 'config';
  list(b: ClusterBackend, f: Record<string, string[]>): Promise<unknown[]>;
  get(b: ClusterBackend, ref: string): Promise<unknown>;
  create(b: ClusterBackend, spec: SecretSpec & ConfigSpec): Promise<string>;
  update(b: ClusterBackend, ref: string, version: number, spec: SecretSpec & ConfigSpec): Promise<void>;
  remove(b: ClusterBackend, ref: string): Promise<void>;
}

const SECRETS: KindOps = {
  path: 'secrets',
  body: 'SecretSpec',
  what: 'secret',
  list: (b, f) => b.listSecrets(f),
  get: (b, ref) => b.getSecret(ref),
  create: (b, spec) => b.createSecret(spec),
  update: (b, ref, v, spec) => b.updateSecret(ref, v, spec),
  remove: (b, ref) => b.removeSecret(ref),
};

const CONFIGS: KindOps = {
  path: 'configs',
  body: 'ConfigSpec',
  what: 'config',
  list: (b, f) => b.listConfigs(f),
  get: (b, ref) => b.getConfig(ref),
  create: (b, spec) => b.createConfig(spec),
  update: (b, ref, v, spec) => b.updateConfig(ref, v, spec),
  remove: (b, ref) => b.removeConfig(ref),
};

async function specOf(ctx: Ctx, k: KindOps): Promise<SecretSpec & ConfigSpec> {
  const spec = canonicalizeFields(await readJsonObject<SecretSpec & ConfigSpec>(ctx.req));
  checkBody(k.body, spec);
  return spec;
}

function routesOf(k: KindOps): Route[] {
  const base = `^\\/${k.path}`;
  return [
    route('GET', new RegExp(`${base}\\/?$`), async (ctx) => sendJson(ctx.res, 200, await k.list(ctx.deps.backend, checkFilters(parseFilters(ctx.query.get('filters')), SECRET_LIST_FILTERS)))),
    route('POST', new RegExp(`${base}\\/create$`), async (ctx) => sendJson(ctx.res, 201, { ID: await k.create(ctx.deps.backend, await specOf(ctx, k)) })),
    route('GET', new RegExp(`${base}\\/([^/]+)$`), async (ctx) => sendJson(ctx.res, 200, await k.get(ctx.deps.backend, ctx.params[0]!))),
    route('DELETE', new RegExp(`${base}\\/([^/]+)$`), async (ctx) => {
      await k.remove(ctx.deps.backend, ctx.params[0]!);
      sendEmpty(ctx.res, 204);
    }),
    route('POST', new RegExp(`${base}\\/([^/]+)\\/update$`), async (ctx) => {
      const version = parseObjectVersion(ctx.query.get('version'), k.what);
      await k.update(ctx.deps.backend, ctx.params[0]!, version, await specOf(ctx, k));
      sendEmpty(ctx.res, 200);
    }),
  ];
}

export const secretRoutes: Route[] = [...routesOf(SECRETS), ...routesOf(CONFIGS)];
