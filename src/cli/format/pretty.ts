// `service inspect --pretty` and `node inspect --pretty`: the docker CLI's pretty templates
// (cli/command/service/formatter.go, cli/command/node/formatter.go) written out as code, every
// `{{-` trim and stray space of theirs kept, so the text is the same byte for byte.
import type { UpdateConfig } from '../../types';
import { humanDuration } from './duration';
import { formatGoDuration } from './duration';
import type { ApiNode } from './nodes';
import { prettyTime } from './objects';
import type { ApiService } from './services';
import { capitalize } from './text';
import { bytesSize } from './units';

/** A map's entries in Go's template order (sorted keys). */
const sortedEntries = (m: Record<string, string> | null | undefined): [string, string][] => Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function updateBlock(title: string, u: UpdateConfig | undefined, orderTitle: string): string {
  if (!u) return '';
  let s = `\n${title}:\n Parallelism:\t${u.Parallelism ?? 0}`;
  if ((u.Delay ?? 0) > 0) s += `\n Delay:\t\t${formatGoDuration(u.Delay!)}`;
  s += `\n On failure:\t${u.FailureAction ?? ''}`;
  if ((u.Monitor ?? 0) > 0) s += `\n Monitoring Period: ${formatGoDuration(u.Monitor!)}`;
  s += `\n Max failure ratio: ${u.MaxFailureRatio ?? 0}`;
  s += `\n ${orderTitle}${u.Order ?? ''}`;
  return s;
}

const ago = (iso: string, nowMs: number): string => `${humanDuration(Math.max(0, nowMs - Date.parse(iso)))} ago`;

/**
 * One service as `docker service inspect --pretty` prints it (the caller adds the newline the
 * formatter writes after each). `networkNames` maps network IDs to names, as the CLI resolves them.
 */
export function prettyService(s: ApiService, nowMs: number, networkNames: ReadonlyMap<string, string> = new Map()): string {
  const sp = s.Spec;
  const tt = sp.TaskTemplate;
  const cs = tt.ContainerSpec ?? { Image: '' };
  let o = `\nID:\t\t${s.ID}\nName:\t\t${sp.Name}`;
  const labels = sortedEntries(sp.Labels);
  if (labels.length) o += '\nLabels:' + labels.map(([k, v]) => `\n ${k}${v ? `=${v}` : ''}`).join('');
  o += '\nService Mode:';
  if (sp.Mode.Global) o += '\tGlobal';
  else if (sp.Mode.Replicated) {
    o += '\tReplicated';
    if (sp.Mode.Replicated.Replicas !== undefined) o += `\n Replicas:\t${sp.Mode.Replicated.Replicas}`;
  }
  const us = s.UpdateStatus;
  if (us?.State) {
    o += `\nUpdateStatus:\n State:\t\t${us.State}`;
    if (us.StartedAt) o += `\n Started:\t${ago(us.StartedAt, nowMs)}`;
    if (us.State === 'completed' && us.CompletedAt) o += `\n Completed:\t${ago(us.CompletedAt, nowMs)}`;
    o += `\n Message:\t${us.Message ?? ''}`;
  }
  o += '\nPlacement:';
  const pl = tt.Placement;
  if (pl?.Constraints?.length) o += `\n Constraints:\t[${pl.Constraints.join(' ')}]`;
  const prefs = (pl?.Preferences ?? []).filter((p) => p.Spread).map((p) => `spread=${p.Spread!.SpreadDescriptor}`);
  if (prefs.length) o += `\n Preferences:   [${prefs.join(' ')}]`;
  if (pl?.MaxReplicas) o += `\n Max Replicas Per Node:   ${pl.MaxReplicas}`;
  o += updateBlock('UpdateConfig', sp.UpdateConfig, 'Update order:      ');
  o += updateBlock('RollbackConfig', sp.RollbackConfig, 'Rollback order:    ');
  o += `\nContainerSpec:\n Image:\t\t${cs.Image}`;
  if (cs.Args?.length) o += '\n Args:\t\t' + cs.Args.map((a) => a + ' ').join('');
  if (cs.Env?.length) o += '\n Env:\t\t' + cs.Env.map((e) => e + ' ').join('');
  if (cs.Dir) o += `\n Dir:\t\t${cs.Dir}`;
  if (cs.Init !== undefined && cs.Init !== null) o += `\n Init:\t\t${cs.Init}`;
  if (cs.User) o += `\n User: ${cs.User}`;
  if (cs.CapabilityAdd?.length || cs.CapabilityDrop?.length) {
    o += '\nCapabilities:';
    if (cs.CapabilityAdd?.length) o += `\n Add: ${cs.CapabilityAdd.join(', ')}`;
    if (cs.CapabilityDrop?.length) o += `\n Drop: ${cs.CapabilityDrop.join(', ')}`;
  }
  const sysctls = sortedEntries(cs.Sysctls);
  if (sysctls.length) o += '\nSysCtls:' + sysctls.map(([k, v]) => `\n ${k}${v ? `: ${v}` : ''}`).join('');
  const ulimits = sortedEntries(Object.fromEntries((cs.Ulimits ?? []).map((u) => [u.Name, `${u.Soft}:${u.Hard}`])));
  if (ulimits.length) o += '\nUlimits:' + ulimits.map(([k, v]) => `\n ${k}: ${v}`).join('');
  if (cs.Mounts?.length) {
    o += '\nMounts:';
    for (const m of cs.Mounts) o += `\n Target:\t${m.Target ?? ''}\n  Source:\t${m.Source ?? ''}\n  ReadOnly:\t${m.ReadOnly ?? false}\n  Type:\t\t${m.Type ?? ''}`;
  }
  if (cs.Configs?.length) o += '\nConfigs:' + cs.Configs.map((c) => `\n Target:\t${c.File?.Name ?? ''}\n  Source:\t${c.ConfigName}`).join('');
  if (cs.Secrets?.length) o += '\nSecrets:' + cs.Secrets.map((c) => `\n Target:\t${c.File?.Name ?? ''}\n  Source:\t${c.SecretName}`).join('');
  if (tt.LogDriver) {
    o += '\nLog Driver:';
    if (tt.LogDriver.Name) o += `\n Name:\t\t${tt.LogDriver.Name}`;
    const opts = sortedEntries(tt.LogDriver.Options);
    if (opts.length) o += '\n LogOpts:' + opts.map(([k, v]) => `\n  ${k}${v ? `:       ${v}` : ''}`).join('');
    o += '\n';
  }
  const r = tt.Resources;
  if (r) {
    o += '\nResources:';
    const res = r.Reservations;
    if (res && ((res.NanoCPUs ?? 0) > 0 || (res.MemoryBytes ?? 0) > 0)) {
      o += '\n Reservations:';
      if ((res.NanoCPUs ?? 0) > 0) o += `\n  CPU:\t\t${res.NanoCPUs! / 1e9}`;
      if (res.MemoryBytes) o += `\n  Memory:\t${bytesSize(res.MemoryBytes)}`;
    }
    const lim = r.Limits;
    if (lim && ((lim.NanoCPUs ?? 0) > 0 || (lim.MemoryBytes ?? 0) > 0 || (lim.Pids ?? 0) > 0)) {
      o += '\n Limits:';
      if ((lim.NanoCPUs ?? 0) > 0) o += `\n  CPU:\t\t${lim.NanoCPUs! / 1e9}`;
      if (lim.MemoryBytes) o += `\n  Memory:\t${bytesSize(lim.MemoryBytes)}`;
    }
  }
  if ((r?.Limits?.Pids ?? 0) > 0) o += `\n  PIDs:\t\t${r!.Limits!.Pids}`;
  const nets = (tt.Networks ?? []).map((n) => networkNames.get(n.Target) ?? n.Target);
  if (nets.length) o += '\nNetworks:' + nets.map((n) => ` ${n}`).join('') + ' ';
  o += `\nEndpoint Mode:\t${sp.EndpointSpec?.Mode ?? ''}`;
  const ports = s.Endpoint?.Ports ?? [];
  if (ports.length) {
    o += '\nPorts:';
    for (const p of ports) o += `\n PublishedPort = ${p.PublishedPort ?? 0}\n  Protocol = ${p.Protocol ?? ''}\n  TargetPort = ${p.TargetPort ?? 0}\n  PublishMode = ${p.PublishMode ?? ''}`;
    o += ' ';
  }
  const hc = cs.HealthCheck;
  if (hc) {
    o += `\n Healthcheck:\n  Interval = ${formatGoDuration(hc.Interval ?? 0)}\n  Retries = ${hc.Retries ?? 0}\n  StartPeriod =\t${formatGoDuration(hc.StartPeriod ?? 0)}\n  Timeout =\t${formatGoDuration(hc.Timeout ?? 0)}`;
    if (hc.Test?.length) o += '\n  Tests:' + hc.Test.map((t) => `\n\t Test = ${t}`).join('') + ' ';
  }
  return o + '\n';
}

/** command.PrettyPrint of a string: first letter upper case, the rest lower. */
const pretty = (s: string): string => capitalize(s.toLowerCase());

const b64 = (s: string | undefined): string => s ?? '';

/** One node as `docker node inspect --pretty` prints it (the caller adds the newline after each). */
export function prettyNode(n: ApiNode): string {
  const d = n.Description ?? ({} as ApiNode['Description']);
  let s = `ID:\t\t\t${n.ID}`;
  if (n.Spec.Name) s += `\nName:\t\t\t${n.Spec.Name}`;
  const labels = sortedEntries(n.Spec.Labels);
  if (labels.length) s += '\nLabels:' + labels.map(([k, v]) => `\n - ${k}${v ? `=${v}` : ''}`).join('');
  s += `\nHostname:              \t${d.Hostname ?? ''}`;
  s += `\nJoined at:             \t${prettyTime(n.CreatedAt)}`;
  s += `\nStatus:\n State:\t\t\t${pretty(n.Status?.State ?? '')}`;
  if (n.Status?.Message) s += `\n Message:              \t${pretty(n.Status.Message)}`;
  s += `\n Availability:         \t${pretty(n.Spec.Availability)}`;
  if (n.Status?.Addr) s += `\n Address:\t\t${n.Status.Addr}`;
  if (n.ManagerStatus) {
    s += `\nManager Status:\n Address:\t\t${n.ManagerStatus.Addr}\n Raft Status:\t\t${pretty(n.ManagerStatus.Reachability)}`;
    s += n.ManagerStatus.Leader ? '\n Leader:\t\tYes' : '\n Leader:\t\tNo';
  }
  s += `\nPlatform:\n Operating System:\t${d.Platform?.OS ?? ''}\n Architecture:\t\t${d.Platform?.Architecture ?? ''}`;
  const mem = d.Resources?.MemoryBytes ?? 0;
  s += `\nResources:\n CPUs:\t\t\t${Math.trunc((d.Resources?.NanoCPUs ?? 0) / 1e9)}\n Memory:\t\t${mem ? bytesSize(mem) : ''}`;
  const plugins = new Map<string, string[]>();
  for (const p of d.Engine?.Plugins ?? []) plugins.set(p.Type, [...(plugins.get(p.Type) ?? []), p.Name]);
  const byType = sortedEntries(Object.fromEntries([...plugins].map(([k, v]) => [k, v.join(', ')])));
  if (byType.length) s += '\nPlugins:' + byType.map(([k, v]) => `\n ${k}:${v ? `\t\t${v}` : ''}`).join('');
  s += `\nEngine Version:\t\t${d.Engine?.EngineVersion ?? ''}`;
  const engineLabels = sortedEntries(d.Engine?.Labels);
  if (engineLabels.length) s += '\nEngine Labels:' + engineLabels.map(([k, v]) => `\n - ${k}${v ? `=${v}` : ''}`).join('');
  const tls = d.TLSInfo;
  if (tls && (tls.TrustRoot || tls.CertIssuerSubject || tls.CertIssuerPublicKey)) {
    s += `\nTLS Info:\n TrustRoot:\n${tls.TrustRoot ?? ''}\n Issuer Subject:\t${b64(tls.CertIssuerSubject)}\n Issuer Public Key:\t${b64(tls.CertIssuerPublicKey)}`;
  }
  return s;
}
