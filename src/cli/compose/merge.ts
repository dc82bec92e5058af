// Several `-c` files become one, as the docker CLI merges them: later files win; the top-level
// maps (services, networks, volumes, secrets, configs) merge by name; inside a service, mappings
// merge key by key (environment and labels in either form), `ports` merge by target port and
// protocol, `volumes` by target path, `secrets`/`configs` by source, `depends_on` and `networks`
// by name; every other list (command, entrypoint, dns, …) and every scalar is replaced. Pure.
import type { Dict } from './document';
import { dependsOn, listOrDict, normalizePorts, normalizeVolumes, serviceNetworks } from './normalize';

const isDict = (v: unknown): v is Dict => !!v && typeof v === 'object' && !Array.isArray(v);

/** Mappings merge recursively; anything else is replaced by the override. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isDict(base) || !isDict(over)) return over === undefined ? base : over;
  const out: Dict = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? deepMerge(base[k], v) : v;
  return out;
}

function byKey<T>(base: T[], over: T[], key: (x: T) => string): T[] {
  const m = new Map<string, T>();
  for (const x of base) m.set(key(x), x);
  for (const x of over) m.set(key(x), x);
  return [...m.values()];
}

const refSource = (r: unknown) => (typeof r === 'string' ? r : String((r as Dict).source));

function mergeService(base: Dict, over: Dict): Dict {
  const out = deepMerge(base, over) as Dict;
  const both = (k: string) => k in base && k in over;
  for (const k of ['environment', 'labels']) if (both(k)) out[k] = { ...listOrDict(base[k]), ...listOrDict(over[k]) };
  if (both('deploy') && isDict(base.deploy) && isDict(over.deploy) && 'labels' in base.deploy && 'labels' in over.deploy)
    (out.deploy as Dict).labels = { ...listOrDict(base.deploy.labels), ...listOrDict(over.deploy.labels) };
  if (both('ports')) out.ports = byKey(normalizePorts(base.ports as unknown[]), normalizePorts(over.ports as unknown[]), (p) => `${p.target}/${p.protocol}`);
  if (both('volumes')) out.volumes = byKey(normalizeVolumes(base.volumes as unknown[]), normalizeVolumes(over.volumes as unknown[]), (v) => v.target);
  for (const k of ['secrets', 'configs']) if (both(k)) out[k] = byKey(base[k] as unknown[], over[k] as unknown[], refSource);
  if (both('depends_on')) {
    const deps = { ...dependsOn(base.depends_on), ...dependsOn(over.depends_on) };
    out.depends_on = Object.fromEntries(Object.entries(deps).map(([n, condition]) => [n, { condition }]));
  }
  if (both('networks')) out.networks = { ...serviceNetworks(base.networks), ...serviceNetworks(over.networks) };
  return out;
}

/** Merges parsed (and interpolated) files in order; the first file is the base. */
export function mergeFiles(files: readonly Dict[]): Dict {
  let out: Dict = {};
  for (const f of files) {
    const next: Dict = { ...out };
    for (const [k, v] of Object.entries(f)) {
      if (k === 'services' && isDict(v)) {
        const services: Dict = { ...((out.services as Dict | undefined) ?? {}) };
        for (const [name, s] of Object.entries(v)) services[name] = isDict(services[name]) && isDict(s) ? mergeService(services[name] as Dict, s) : s;
        next.services = services;
      } else next[k] = deepMerge(out[k], v);
    }
    out = next;
  }
  return out;
}
