// Task → engine container configuration, as Docker's swarm executor builds it.
import type { ContainerCreateConfig, ContainerInspect, EndpointSettings, HostConfig, MountConfig, PortBinding } from '../../../engine';
import type { ContainerEndpoint } from './networking';
import type { ContainerSpec, PortConfig, Task, TaskEndpoint } from '../../../types';
import { containerName } from '../../../types';

export const LABEL_SERVICE_ID = 'com.docker.swarm.service.id';
export const LABEL_SERVICE_NAME = 'com.docker.swarm.service.name';
export const LABEL_TASK = 'com.docker.swarm.task';
export const LABEL_TASK_ID = 'com.docker.swarm.task.id';
export const LABEL_TASK_NAME = 'com.docker.swarm.task.name';
export const LABEL_NODE_ID = 'com.docker.swarm.node.id';

// The task's names live with the Task type: the name table (service discovery) answers them too.
export { containerName, taskBaseName } from '../../../types';

export function containerLabels(task: Task): Record<string, string> {
  const spec = task.Spec.ContainerSpec;
  return {
    ...(spec?.Labels ?? {}),
    [LABEL_SERVICE_ID]: task.ServiceID,
    [LABEL_SERVICE_NAME]: task.internal.serviceName,
    [LABEL_TASK]: '',
    [LABEL_TASK_ID]: task.ID,
    [LABEL_TASK_NAME]: containerName(task),
    [LABEL_NODE_ID]: task.NodeID ?? '',
  };
}

const NS_PER_S = 1_000_000_000;

function mounts(spec: ContainerSpec): MountConfig[] | undefined {
  if (!spec.Mounts?.length) return undefined;
  return spec.Mounts.map((m) => {
    const out: MountConfig = { Type: m.Type, Target: m.Target };
    if (m.Source !== undefined) out.Source = m.Source;
    if (m.ReadOnly) out.ReadOnly = true;
    if (m.Consistency) out.Consistency = m.Consistency;
    if (m.Type === 'bind' && m.BindOptions) out.BindOptions = m.BindOptions;
    if (m.Type === 'volume' && m.VolumeOptions) out.VolumeOptions = m.VolumeOptions;
    if (m.Type === 'tmpfs' && m.TmpfsOptions) out.TmpfsOptions = m.TmpfsOptions;
    return out;
  });
}

/** Swarm's `Hosts` entries are "IP host [alias…]"; the engine wants "host:IP" (one per name). */
export function extraHosts(hosts: string[] | undefined): string[] | undefined {
  if (!hosts?.length) return undefined;
  const out: string[] = [];
  for (const h of hosts) {
    const parts = h.trim().split(/\s+/);
    if (parts.length < 2) continue;
    for (const name of parts.slice(1)) out.push(`${name}:${parts[0]}`);
  }
  return out;
}

export interface ContainerConfigOptions {
  /** The image reference to create from (already resolved locally). */
  image: string;
  /** HostConfig.NetworkMode; default: the engine's. */
  networkMode?: string;
  /**
   * The task's swarm networks on this node's engine: the first is the container's network mode (with
   * its address), the others are connected after the create (API 1.41 takes one endpoint at create).
   */
  endpoints?: ContainerEndpoint[];
  /**
   * The node's embedded DNS server on the task's network (service discovery): the container's
   * nameserver unless the spec names its own (`--dns`), as Docker points containers at 127.0.0.11.
   */
  nameserver?: string;
  /**
   * A resolv.conf on this host written for the task (`taskResolvConf`): mounted at /etc/resolv.conf so
   * the container asks the node's DNS itself, not through the engine's 127.0.0.11 (which answers
   * single-label names empty, unforwarded, once a task sets `ndots`).
   */
  resolvConfPath?: string;
  /** Secret and config files: host path → container path, bound read-only. */
  files?: { Source: string; Target: string }[];
}

/** The body of `POST /containers/create` for a task. */
export function containerConfig(task: Task, opts: ContainerConfigOptions): ContainerCreateConfig {
  const spec = task.Spec.ContainerSpec;
  if (!spec) throw new Error(`task ${task.ID} has no ContainerSpec`);
  const cfg: ContainerCreateConfig = {
    Image: opts.image,
    Labels: containerLabels(task),
    Tty: !!spec.TTY,
    OpenStdin: !!spec.OpenStdin,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
  };
  // Swarm: Command replaces the image's entrypoint (and Args are its arguments);
  // Args alone are the arguments of the image's entrypoint.
  if (spec.Command?.length) {
    cfg.Entrypoint = [...spec.Command];
    cfg.Cmd = [...(spec.Args ?? [])];
  } else if (spec.Args?.length) {
    cfg.Cmd = [...spec.Args];
  }
  if (spec.Env?.length) cfg.Env = [...spec.Env];
  if (spec.Dir) cfg.WorkingDir = spec.Dir;
  if (spec.User) cfg.User = spec.User;
  if (spec.Hostname) cfg.Hostname = spec.Hostname;
  if (spec.StopSignal) cfg.StopSignal = spec.StopSignal;
  if (spec.StopGracePeriod !== undefined) cfg.StopTimeout = Math.ceil(spec.StopGracePeriod / NS_PER_S);
  if (spec.HealthCheck) {
    const h = spec.HealthCheck;
    cfg.Healthcheck = {};
    if (h.Test) cfg.Healthcheck.Test = [...h.Test];
    if (h.Interval) cfg.Healthcheck.Interval = h.Interval;
    if (h.Timeout) cfg.Healthcheck.Timeout = h.Timeout;
    if (h.Retries) cfg.Healthcheck.Retries = h.Retries;
    if (h.StartPeriod) cfg.Healthcheck.StartPeriod = h.StartPeriod;
  }

  const hc: HostConfig = { RestartPolicy: { Name: 'no' } };
  const m = [...(mounts(spec) ?? []), ...(opts.files ?? []).map((f): MountConfig => ({ Type: 'bind', Source: f.Source, Target: f.Target, ReadOnly: true }))];
  if (opts.resolvConfPath && !m.some((x) => x.Target === RESOLV_CONF)) m.push({ Type: 'bind', Source: opts.resolvConfPath, Target: RESOLV_CONF });
  if (m.length) hc.Mounts = m;
  if (spec.ReadOnly) hc.ReadonlyRootfs = true;
  if (spec.Init !== undefined && spec.Init !== null) hc.Init = spec.Init;
  const limits = task.Spec.Resources?.Limits;
  if (limits?.NanoCPUs) hc.NanoCpus = limits.NanoCPUs;
  if (limits?.MemoryBytes) hc.Memory = limits.MemoryBytes;
  if (limits?.Pids) hc.PidsLimit = limits.Pids;
  if (spec.Sysctls && Object.keys(spec.Sysctls).length) hc.Sysctls = { ...spec.Sysctls };
  if (spec.CapabilityAdd?.length) hc.CapAdd = [...spec.CapabilityAdd];
  if (spec.CapabilityDrop?.length) hc.CapDrop = [...spec.CapabilityDrop];
  if (spec.Ulimits?.length) hc.Ulimits = spec.Ulimits.map((u) => ({ Name: u.Name, Soft: u.Soft, Hard: u.Hard }));
  const eh = extraHosts(spec.Hosts);
  if (eh) hc.ExtraHosts = eh;
  // Behind the node's DNS the task's own servers are that DNS server's upstreams for this container
  // (NodeNetwork), as Docker's 127.0.0.11 forwards to them. With the task's own resolv.conf mounted
  // the engine's settings are not used and show the spec's, as Docker's executor passes them.
  if (opts.nameserver && !opts.resolvConfPath) hc.Dns = [opts.nameserver];
  else if (spec.DNSConfig?.Nameservers?.length) hc.Dns = [...spec.DNSConfig.Nameservers];
  if (spec.DNSConfig?.Search?.length) hc.DnsSearch = [...spec.DNSConfig.Search];
  if (spec.DNSConfig?.Options?.length) hc.DnsOptions = [...spec.DNSConfig.Options];
  if (spec.Groups?.length) hc.GroupAdd = [...spec.Groups];
  if (spec.Isolation && spec.Isolation !== 'default') hc.Isolation = spec.Isolation;
  const ld = task.Spec.LogDriver;
  if (ld?.Name) hc.LogConfig = { Type: ld.Name, Config: { ...(ld.Options ?? {}) } };
  if (opts.networkMode) hc.NetworkMode = opts.networkMode;
  const published = hostPortBindings(task);
  if (published) {
    cfg.ExposedPorts = published.exposed;
    hc.PortBindings = published.bindings;
  }
  const first = opts.endpoints?.[0];
  if (first) {
    hc.NetworkMode = first.network;
    cfg.NetworkingConfig = { EndpointsConfig: { [first.network]: endpointSettings(first) } };
  }
  cfg.HostConfig = hc;
  return cfg;
}

const RESOLV_CONF = '/etc/resolv.conf';

/**
 * Whether the task's container needs a resolv.conf of its own (`taskResolvConf`) rather than the
 * engine's 127.0.0.11 forwarding to the node's DNS: when the task sets `ndots`, the engine's resolver
 * answers single-label names (`web`, the swarm's service names) empty and never forwards them. Only
 * then, since a mounted resolv.conf shows in the container's `Mounts`, which Docker's do not.
 */
export function needsOwnResolvConf(dns: ContainerSpec['DNSConfig']): boolean {
  return (dns?.Options ?? []).some((o) => o.startsWith('ndots:'));
}

/** The resolv.conf of a task behind the node's DNS: that server, the task's search domains and options. */
export function taskResolvConf(nameserver: string, dns: ContainerSpec['DNSConfig']): string {
  const lines = [`nameserver ${nameserver}`];
  if (dns?.Search?.length) lines.push(`search ${dns.Search.join(' ')}`);
  if (dns?.Options?.length) lines.push(`options ${dns.Options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/** The task's host-mode published ports (`--publish mode=host,…`): bound by the container on its node. */
export function hostModePorts(task: Task): PortConfig[] {
  return (task.internal.ports ?? []).filter((p) => p.PublishMode === 'host' && p.TargetPort);
}

const portKeyOf = (p: { Protocol?: string; TargetPort?: number }): string => `${p.TargetPort}/${p.Protocol ?? 'tcp'}`;

/**
 * Host-mode ports as the engine publishes them, as Docker's swarm executor asks: the target port
 * exposed and bound on every host address to the published port, or to one the engine picks when the
 * spec names none (`HostPort: ""`).
 */
export function hostPortBindings(task: Task): { exposed: Record<string, Record<string, never>>; bindings: Record<string, PortBinding[]> } | undefined {
  const ports = hostModePorts(task);
  if (!ports.length) return undefined;
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const p of ports) {
    const key = portKeyOf(p);
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: '', HostPort: p.PublishedPort ? String(p.PublishedPort) : '' });
  }
  return { exposed, bindings };
}

/**
 * The host ports a running container holds for the task's host-mode ports (the engine's
 * `NetworkSettings.Ports`, IPv4 binding first): what `docker service ps` shows in PORTS.
 */
export function publishedHostEndpoints(task: Task, c: ContainerInspect): TaskEndpoint[] {
  const out: TaskEndpoint[] = [];
  const bound = c.NetworkSettings?.Ports ?? {};
  for (const p of hostModePorts(task)) {
    const protocol = p.Protocol === 'udp' ? 'udp' : 'tcp';
    if (out.some((e) => e.Protocol === protocol && e.TargetPort === p.TargetPort)) continue;
    const list = bound[portKeyOf(p)] ?? [];
    const b = list.find((x) => x.HostIp === '0.0.0.0' || x.HostIp === '') ?? list[0];
    const port = Number(b?.HostPort);
    if (port > 0) out.push({ Protocol: protocol, TargetPort: p.TargetPort!, Port: port });
  }
  return out;
}

export function endpointSettings(e: ContainerEndpoint): EndpointSettings {
  return e.ipv4 ? { IPAMConfig: { IPv4Address: e.ipv4 } } : {};
}

/** `name@sha256:<hex>` → { name, digest: 'sha256:<hex>' }; plain references → { name }. */
export function splitDigest(ref: string): { name: string; digest?: string } {
  const i = ref.indexOf('@');
  if (i < 0) return { name: ref };
  return { name: ref.slice(0, i), digest: ref.slice(i + 1) };
}

/**
 * What to ask the engine to pull for a task's image reference, as Docker's swarm executor does:
 * `name[:tag]@sha256:D` by its digest alone (the tag is informative once the digest is pinned),
 * `name:tag` by its tag, a bare `name` as `name:latest` (never every tag). An image ID
 * (`sha256:…`, or 64 hex digits) names nothing in a registry: undefined, no pull.
 */
export function pullReference(ref: string): { fromImage: string; tag: string } | undefined {
  if (/^(sha256:)?[0-9a-f]{64}$/.test(ref)) return undefined;
  const { name: named, digest } = splitDigest(ref);
  const slash = named.lastIndexOf('/');
  const colon = named.lastIndexOf(':');
  const hasTag = colon > slash;
  const name = hasTag ? named.slice(0, colon) : named;
  if (!name) return undefined;
  if (digest) return { fromImage: name, tag: digest };
  return { fromImage: name, tag: hasTag ? named.slice(colon + 1) : 'latest' };
}
