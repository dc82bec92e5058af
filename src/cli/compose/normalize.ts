// The short forms of the Compose file turned into their long forms, so merging and converting
// deal with one shape: `"8080:80/udp"` ports, `"data:/var/lib:ro"` volumes, list-or-mapping
// environments and labels, list-or-mapping depends_on and networks. Pure.
import { ComposeError, type Dict } from './document';

export interface PortLong {
  target: number;
  published?: number;
  protocol: string;
  mode: string;
}

export interface VolumeLong {
  type: string;
  source?: string;
  target: string;
  read_only?: boolean;
  volume?: { nocopy?: boolean };
  bind?: { propagation?: string };
  tmpfs?: { size?: number | string };
}

export type DependsCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

function range(s: string, what: string): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new ComposeError(`invalid ${what}: ${JSON.stringify(s)}`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (b < a || a > 65535 || b > 65535) throw new ComposeError(`invalid ${what}: ${JSON.stringify(s)}`);
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/** `[[ip:]published[-end]:]target[-end][/protocol]`; a range gives one entry per port. */
export function parseShortPort(spec: string): PortLong[] {
  let body = spec.trim();
  let protocol = 'tcp';
  const slash = body.lastIndexOf('/');
  if (slash >= 0) {
    protocol = body.slice(slash + 1).toLowerCase();
    body = body.slice(0, slash);
  }
  const parts = body.split(':');
  const targetText = parts.pop()!;
  const publishedText = parts.pop();
  const targets = range(targetText, 'containerPort');
  const published = publishedText ? range(publishedText, 'hostPort') : undefined;
  if (published && published.length !== targets.length && published.length !== 1)
    throw new ComposeError(`invalid ranges specified for container and host Ports: ${targetText} and ${publishedText}`);
  return targets.map((target, i) => ({ target, ...(published ? { published: published.length === 1 ? published[0]! : published[i]! } : {}), protocol, mode: 'ingress' }));
}

export function normalizePorts(list: unknown[]): PortLong[] {
  const out: PortLong[] = [];
  for (const p of list) {
    if (typeof p === 'number') out.push({ target: p, protocol: 'tcp', mode: 'ingress' });
    else if (typeof p === 'string') out.push(...parseShortPort(p));
    else {
      const o = p as Dict;
      const published = o.published === undefined || o.published === '' ? undefined : Number(o.published);
      if (published !== undefined && !Number.isInteger(published)) throw new ComposeError(`invalid published port: ${JSON.stringify(o.published)}`);
      out.push({ target: Number(o.target), ...(published !== undefined ? { published } : {}), protocol: String(o.protocol ?? 'tcp').toLowerCase(), mode: String(o.mode ?? 'ingress') });
    }
  }
  return out;
}

const isPathLike = (s: string) => s.startsWith('/') || s.startsWith('.') || s.startsWith('~');

/** `[source:]target[:mode]` — a source that looks like a path is a bind mount, else a named volume. */
export function parseShortVolume(spec: string): VolumeLong {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) throw new ComposeError(`invalid spec: ${spec}: too many colons`);
  if (parts.length === 1) return { type: 'volume', target: parts[0]! };
  const [source, target, mode] = parts as [string, string, string | undefined];
  const v: VolumeLong = { type: isPathLike(source) ? 'bind' : 'volume', source, target };
  for (const opt of (mode ?? '').split(',').filter(Boolean)) {
    if (opt === 'ro') v.read_only = true;
    else if (opt === 'rw') v.read_only = false;
    else if (opt === 'nocopy') v.volume = { nocopy: true };
    else if (['rprivate', 'private', 'rshared', 'shared', 'rslave', 'slave'].includes(opt)) v.bind = { propagation: opt };
  }
  return v;
}

export function normalizeVolumes(list: unknown[]): VolumeLong[] {
  return list.map((v) => (typeof v === 'string' ? parseShortVolume(v) : ({ ...(v as Dict) } as unknown as VolumeLong)));
}

/** `["A=1", "B"]` or `{A: 1, B: null}` → {A: '1', B: null}; null means "no value given". */
export function listOrDict(v: unknown, sep = '='): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = String(item);
      const i = s.indexOf(sep);
      if (i < 0) out[s] = null;
      else out[s.slice(0, i)] = s.slice(i + 1);
    }
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Dict)) out[k] = x === null || x === undefined ? null : String(x);
  }
  return out;
}

/** `[db]` or `{db: {condition: …}}` → {db: condition}; a plain list means service_started. */
export function dependsOn(v: unknown): Record<string, DependsCondition> {
  const out: Record<string, DependsCondition> = {};
  if (Array.isArray(v)) for (const n of v) out[String(n)] = 'service_started';
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v as Dict)) out[k] = ((x as Dict | null)?.condition as DependsCondition) ?? 'service_started';
  return out;
}

/** `[net]` or `{net: {aliases: …}}` → {net: config}. */
export function serviceNetworks(v: unknown): Record<string, Dict | null> {
  const out: Record<string, Dict | null> = {};
  if (Array.isArray(v)) for (const n of v) out[String(n)] = null;
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v as Dict)) out[k] = (x as Dict | null) ?? null;
  return out;
}
