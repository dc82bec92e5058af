// `docker network ls`, `docker secret ls`, `docker config ls` rows and the `inspect --pretty` texts
// of secrets and configs (facts from the docker CLI's formatters; the layout is theirs).
import { humanDuration } from './duration';
import type { RowContext } from './template';
import { truncId } from './text';

export interface ApiNetwork {
  Id: string;
  Name: string;
  Driver?: string;
  Scope?: string;
  Created?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Labels?: Record<string, string> | null;
}

export interface ApiSecretOrConfig {
  ID: string;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: { Name: string; Labels?: Record<string, string> | null; Data?: string; Driver?: { Name: string } | null };
}

export const NETWORK_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
export const NETWORK_HEADER = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv4: 'IPV4', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', CreatedAt: 'CREATED AT' };
export const SECRET_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}';
export const SECRET_HEADER = { ID: 'ID', Name: 'NAME', Driver: 'DRIVER', CreatedAt: 'CREATED', UpdatedAt: 'UPDATED', Labels: 'LABELS' };
export const CONFIG_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.CreatedAt}}\t{{.UpdatedAt}}';
export const CONFIG_HEADER = { ID: 'ID', Name: 'NAME', CreatedAt: 'CREATED', UpdatedAt: 'UPDATED', Labels: 'LABELS' };
/** formatter.DefaultQuietFormat. */
export const QUIET_FORMAT = '{{.ID}}';

/** sortorder.NaturalLess: runs of digits compare as numbers, everything else byte by byte. */
export function naturalCompare(a: string, b: string): number {
  const chunks = (s: string) => s.match(/\d+|\D+/g) ?? [];
  const ca = chunks(a);
  const cb = chunks(b);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i]!;
    const y = cb[i]!;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const nx = x.replace(/^0+/, '');
      const ny = y.replace(/^0+/, '');
      if (nx.length !== ny.length) return nx.length - ny.length;
      if (nx !== ny) return nx < ny ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return ca.length - cb.length;
}

/** Labels as the list formatters print them: `k=v` joined by commas ("" without labels). */
const labelsText = (l: Record<string, string> | null | undefined): string =>
  Object.entries(l ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

const labelFn = (l: Record<string, string> | null | undefined) => (name: string) => l?.[name] ?? '';

const ago = (iso: string, nowMs: number): string => `${humanDuration(nowMs - Date.parse(iso))} ago`;

/**
 * Go's time.Time String() of an RFC 3339 timestamp, as `inspect --pretty` prints it:
 * "2026-12-02T10:30:03.1234Z" → "2026-12-02 10:30:03.1234 +0000 UTC". Done on the text so no
 * nanosecond digit is lost.
 */
export function goTimeString(iso: string): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (!m) return iso;
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const zone = m[4] === 'Z' ? '+0000 UTC' : `${m[4]!.replace(':', '')} ${m[4]!.replace(':', '')}`;
  return `${m[1]} ${m[2]}${frac === '.' ? '' : frac} ${zone}`;
}

export function networkRows(networks: readonly ApiNetwork[], o: { noTrunc?: boolean }): RowContext[] {
  return [...networks]
    .sort((a, b) => naturalCompare(a.Name, b.Name))
    .map((n) => ({
      ID: o.noTrunc ? n.Id : truncId(n.Id),
      Name: n.Name,
      Driver: n.Driver ?? '',
      Scope: n.Scope ?? '',
      IPv4: String(n.EnableIPv4 ?? false),
      IPv6: String(n.EnableIPv6 ?? false),
      Internal: String(n.Internal ?? false),
      Labels: labelsText(n.Labels),
      Label: labelFn(n.Labels),
      CreatedAt: n.Created ? goTimeString(n.Created) : '',
    }));
}

export function secretRows(secrets: readonly ApiSecretOrConfig[], nowMs: number): RowContext[] {
  return [...secrets]
    .sort((a, b) => naturalCompare(a.Spec.Name, b.Spec.Name))
    .map((s) => ({
      ID: s.ID,
      Name: s.Spec.Name,
      Driver: s.Spec.Driver?.Name ?? '',
      CreatedAt: ago(s.CreatedAt, nowMs),
      UpdatedAt: ago(s.UpdatedAt, nowMs),
      Labels: labelsText(s.Spec.Labels),
      Label: labelFn(s.Spec.Labels),
    }));
}

export function configRows(configs: readonly ApiSecretOrConfig[], nowMs: number): RowContext[] {
  return secretRows(configs, nowMs).map(({ Driver: _driver, ...rest }) => rest);
}

/** command.PrettyPrint of a time: its Go String() with the first letter upper case and the rest lower ("+0000 utc"). */
export const prettyTime = (iso: string): string => {
  const s = goTimeString(iso);
  return s.slice(0, 1).toUpperCase() + s.slice(1).toLowerCase();
};

function labelLines(l: Record<string, string> | null | undefined): string {
  const entries = Object.entries(l ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (!entries.length) return '';
  return '\nLabels:' + entries.map(([k, v]) => `\n - ${k}${v ? `=${v}` : ''}`).join('');
}

/** `docker secret inspect --pretty` of one secret (no trailing newline; the caller separates them). */
export function prettySecret(s: ApiSecretOrConfig): string {
  return (
    `ID:              ${s.ID}\nName:              ${s.Spec.Name}${labelLines(s.Spec.Labels)}\n` +
    `Driver:            ${s.Spec.Driver?.Name ?? ''}\nCreated at:        ${prettyTime(s.CreatedAt)}\nUpdated at:        ${prettyTime(s.UpdatedAt)}`
  );
}

/** `docker config inspect --pretty` of one config, its data printed as text. */
export function prettyConfig(c: ApiSecretOrConfig): string {
  const data = c.Spec.Data ? Buffer.from(c.Spec.Data, 'base64').toString('utf8') : '';
  return (
    `ID:\t\t\t${c.ID}\nName:\t\t\t${c.Spec.Name}${labelLines(c.Spec.Labels)}\n` +
    `Created at:            \t${prettyTime(c.CreatedAt)}\nUpdated at:            \t${prettyTime(c.UpdatedAt)}\nData:\n${data}`
  );
}
