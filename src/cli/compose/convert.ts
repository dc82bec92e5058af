// A merged Compose file → what `stack deploy` sends to the Engine API, following the docker CLI's
// stack conversion: every name is `<stack>_<name>` (unless the file gives `name:`), everything
// carries the `com.docker.stack.namespace` label, services also `com.docker.stack.image`; a service
// without networks joins `<stack>_default` (an overlay) with its short name as alias; named volumes
// become volume mounts of `<stack>_<volume>`. Pure: files (env_file) are read through `readText`.
import type { HealthConfig, Mount, NetworkCreateRequest, PortConfig, ServiceSpec } from '../../types';
import { parseGoDuration } from '../../lib/duration';
import { shellWords } from '../format/spec';
import { parseCpus, parseMemory } from '../format/units';
import { ComposeError, type Dict } from './document';
import { parseEnvFile } from './interpolate';
import { dependsOn, listOrDict, normalizePorts, normalizeVolumes, serviceNetworks, type DependsCondition } from './normalize';

export const LABEL_NAMESPACE = 'com.docker.stack.namespace';
export const LABEL_IMAGE = 'com.docker.stack.image';

/** Service keys the docker CLI's stack deploy ignores with "Ignoring unsupported options: …". */
const UNSUPPORTED = ['cgroup_parent', 'devices', 'domainname', 'external_links', 'ipc', 'links', 'mac_address', 'network_mode', 'pid', 'privileged', 'security_opt', 'shm_size', 'userns_mode'];
/** Service keys the docker CLI refuses outright ("Compose file contains unsupported options"). */
const FORBIDDEN: Record<string, string> = {
  extends: 'Support for `extends` is not implemented yet.',
};
const DEPRECATED: Record<string, string> = {
  container_name: 'Setting the container name is not supported.',
  expose: 'Exposing ports is unnecessary - services on the same network can access each other\'s containers on any port.',
};

export interface ConvertOptions {
  /** Absolute path for a path in the file (relative to the first file's directory). */
  resolvePath(p: string): string;
  /** The process environment: `environment: [NAME]` takes NAME's value from it. */
  lookupEnv(name: string): string | undefined;
  /** Reads an env_file (already resolved). */
  readText(path: string): string;
}

/** A secret or config the stack creates (its data is read by the caller) or expects (external). */
export interface StackObject {
  key: string;
  name: string;
  external: boolean;
  labels: Record<string, string>;
  /** Absolute path of `file:`. */
  file?: string;
  /** The variable of `environment:`. */
  env?: string;
}

export interface StackService {
  key: string;
  spec: ServiceSpec;
  dependsOn: Record<string, DependsCondition>;
}

export interface StackPlan {
  namespace: string;
  networks: NetworkCreateRequest[];
  externalNetworks: string[];
  secrets: StackObject[];
  configs: StackObject[];
  services: StackService[];
  /** Lines for stderr, as the docker CLI prints them (each ends with a blank line). */
  warnings: string[];
}

const isDict = (v: unknown): v is Dict => !!v && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
const sortedKeys = <T>(o: Record<string, T>): string[] => Object.keys(o).sort();

function duration(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v * 1e9;
  try {
    return parseGoDuration(String(v));
  } catch (e) {
    throw new ComposeError(`${where}: ${(e as Error).message}`);
  }
}

function bytes(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  try {
    return parseMemory(String(v));
  } catch (e) {
    throw new ComposeError(`${where}: ${(e as Error).message}`);
  }
}

function cpus(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  try {
    return parseCpus(String(v));
  } catch (e) {
    throw new ComposeError(`${where}: ${(e as Error).message}`);
  }
}

/** Drops undefined members (and so the keys the docker CLI leaves out when empty). */
function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

const stackLabels = (ns: string, labels: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(listOrDict(labels))) out[k] = v ?? '';
  out[LABEL_NAMESPACE] = ns;
  return out;
};

/** "a" or ["CMD", "a"] → Docker's HealthConfig.Test. */
function healthTest(t: unknown): string[] | undefined {
  if (t === undefined) return undefined;
  if (typeof t === 'string') return ['CMD-SHELL', t];
  return (t as unknown[]).map(String);
}

function healthcheck(h: Dict | undefined, where: string): HealthConfig | undefined {
  if (!h) return undefined;
  if (h.disable === true) {
    if (h.test !== undefined) throw new ComposeError(`${where}: test and disable can't be set at the same time`);
    return { Test: ['NONE'] };
  }
  return compact({
    Test: healthTest(h.test),
    Interval: duration(h.interval, `${where}.interval`),
    Timeout: duration(h.timeout, `${where}.timeout`),
    StartPeriod: duration(h.start_period, `${where}.start_period`),
    StartInterval: duration(h.start_interval, `${where}.start_interval`),
    Retries: h.retries === undefined ? undefined : Number(h.retries),
  });
}

function updateConfig(u: unknown, where: string): ServiceSpec['UpdateConfig'] {
  if (!isDict(u)) return undefined;
  return compact({
    Parallelism: u.parallelism === undefined ? 1 : Number(u.parallelism),
    Delay: duration(u.delay, `${where}.delay`),
    FailureAction: str(u.failure_action) as NonNullable<ServiceSpec['UpdateConfig']>['FailureAction'],
    Monitor: duration(u.monitor, `${where}.monitor`),
    MaxFailureRatio: u.max_failure_ratio === undefined ? undefined : Number(u.max_failure_ratio),
    Order: str(u.order) as NonNullable<ServiceSpec['UpdateConfig']>['Order'],
  });
}

/** deploy.restart_policy, else the legacy `restart:` (no, always, unless-stopped, on-failure[:N]). */
function restartPolicy(deploy: Dict, restart: unknown, where: string): ServiceSpec['TaskTemplate']['RestartPolicy'] {
  const r = deploy.restart_policy;
  if (isDict(r))
    return compact({
      Condition: str(r.condition) as 'none' | 'on-failure' | 'any' | undefined,
      Delay: duration(r.delay, `${where}.deploy.restart_policy.delay`),
      MaxAttempts: r.max_attempts === undefined ? undefined : Number(r.max_attempts),
      Window: duration(r.window, `${where}.deploy.restart_policy.window`),
    });
  if (restart === undefined || restart === 'no' || restart === '') return undefined;
  const [name, count] = String(restart).split(':');
  const max = count ? Number(count) : 0;
  if (name === 'always' || name === 'unless-stopped') return compact({ Condition: 'any' as const, MaxAttempts: max > 0 ? max : undefined });
  if (name === 'on-failure') return compact({ Condition: 'on-failure' as const, MaxAttempts: max > 0 ? max : undefined });
  throw new ComposeError(`${where}: invalid restart policy: unknown policy '${name}' (must be one of 'no', 'always', 'on-failure', or 'unless-stopped')`);
}

function serviceMode(deploy: Dict, where: string): ServiceSpec['Mode'] {
  const replicas = deploy.replicas === undefined ? undefined : Number(deploy.replicas);
  const mode = str(deploy.mode) ?? 'replicated';
  switch (mode) {
    case 'replicated':
      return { Replicated: compact({ Replicas: replicas }) };
    case 'global':
      if (replicas !== undefined) throw new ComposeError(`${where}: replicas can only be used with replicated or replicated-job mode`);
      return { Global: {} };
    case 'replicated-job':
      return { ReplicatedJob: compact({ MaxConcurrent: replicas, TotalCompletions: replicas }) };
    case 'global-job':
      if (replicas !== undefined) throw new ComposeError(`${where}: replicas can only be used with replicated or replicated-job mode`);
      return { GlobalJob: {} };
    default:
      throw new ComposeError(`${where}: unknown mode: ${mode}`);
  }
}

function comparePorts(a: PortConfig, b: PortConfig): number {
  return (a.Protocol ?? '').localeCompare(b.Protocol ?? '') || (a.TargetPort ?? 0) - (b.TargetPort ?? 0) || (a.PublishedPort ?? 0) - (b.PublishedPort ?? 0) || (a.PublishMode ?? '').localeCompare(b.PublishMode ?? '');
}

function mounts(list: unknown, volumes: Dict, ns: string, o: ConvertOptions, where: string): Mount[] | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  return normalizeVolumes(list).map((v) => {
    const m: Mount = compact({ Type: v.type as Mount['Type'], Source: v.source, Target: v.target, ReadOnly: v.read_only || undefined });
    if (v.type === 'bind') {
      if (!v.source) throw new ComposeError(`${where}: invalid bind source, source cannot be empty`);
      m.Source = o.resolvePath(v.source);
      if (v.bind?.propagation) m.BindOptions = { Propagation: v.bind.propagation };
    } else if (v.type === 'volume') {
      if (v.source) {
        if (!(v.source in volumes)) throw new ComposeError(`${where}: undefined volume ${JSON.stringify(v.source)}`);
        const top = (volumes[v.source] as Dict | null) ?? {};
        m.Source = str(top.name) ?? `${ns}_${v.source}`;
        const opts: Dict = {};
        if (v.volume?.nocopy) opts.NoCopy = true;
        if (!top.external) {
          opts.Labels = stackLabels(ns, top.labels);
          if (top.driver !== undefined || top.driver_opts !== undefined)
            opts.DriverConfig = compact({ Name: str(top.driver), Options: top.driver_opts ? listOrDict(top.driver_opts) : undefined });
        }
        m.VolumeOptions = opts;
      }
    } else if (v.type === 'tmpfs') {
      if (v.source) throw new ComposeError(`${where}: invalid tmpfs source, source must be empty`);
      if (v.tmpfs?.size !== undefined) m.TmpfsOptions = { SizeBytes: bytes(v.tmpfs.size, `${where}.tmpfs.size`) };
    } else throw new ComposeError(`${where}: volume type must be volume, bind or tmpfs`);
    return m;
  });
}

function environment(s: Dict, o: ConvertOptions, where: string): string[] | undefined {
  const env: Record<string, string | null> = {};
  const files = s.env_file === undefined ? [] : Array.isArray(s.env_file) ? s.env_file : [s.env_file];
  for (const f of files) {
    const p = o.resolvePath(typeof f === 'string' ? f : String((f as Dict).path));
    let text: string;
    try {
      text = o.readText(p);
    } catch (e) {
      if ((f as Dict)?.required === false) continue;
      throw new ComposeError(`${where}: env_file ${p}: ${(e as Error).message}`);
    }
    Object.assign(env, parseEnvFile(text, p));
  }
  Object.assign(env, listOrDict(s.environment));
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    const value = v ?? o.lookupEnv(k);
    out.push(value === undefined ? k : `${k}=${value}`);
  }
  out.sort();
  return out.length ? out : undefined;
}

/** Where a secret or config lands in the task (Engine API `SecretReferenceFileTarget`). */
interface FileTarget {
  Name: string;
  UID: string;
  GID: string;
  Mode: number;
}

/** References by name; deploy fills in the IDs (`SecretID`/`ConfigID`) once the objects exist. */
export interface SecretRef {
  File: FileTarget;
  SecretID: string;
  SecretName: string;
}
export interface ConfigRef {
  File: FileTarget;
  ConfigID: string;
  ConfigName: string;
}

function fileTargets(kind: 'secret' | 'config', list: unknown, objects: StackObject[], where: string): { name: string; file: FileTarget }[] | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const refs = list.map((r) => {
    const ref = typeof r === 'string' ? { source: r } : (r as Dict);
    const source = String(ref.source);
    const obj = objects.find((x) => x.key === source);
    if (!obj) throw new ComposeError(`${where}: undefined ${kind} ${JSON.stringify(source)}`);
    return { name: obj.name, file: { Name: str(ref.target) ?? source, UID: str(ref.uid) ?? '0', GID: str(ref.gid) ?? '0', Mode: ref.mode === undefined ? 0o444 : Number(ref.mode) } };
  });
  return refs.sort((a, b) => a.name.localeCompare(b.name));
}

function objects(kind: 'secret' | 'config', section: unknown, ns: string, o: ConvertOptions): StackObject[] {
  if (!isDict(section)) return [];
  return sortedKeys(section).map((key) => {
    const d = (section[key] as Dict | null) ?? {};
    const external = d.external === true || isDict(d.external);
    const name = external ? (str(d.name) ?? (isDict(d.external) ? str(d.external.name) : undefined) ?? key) : (str(d.name) ?? `${ns}_${key}`);
    const obj: StackObject = { key, name, external, labels: stackLabels(ns, d.labels) };
    if (!external) {
      if (typeof d.file === 'string') obj.file = o.resolvePath(d.file);
      else if (typeof d.environment === 'string') obj.env = d.environment;
      else throw new ComposeError(`${kind}s.${key}: ${kind} must have a file or an environment variable (or be external)`);
    }
    return obj;
  });
}

/** Converts a merged, validated Compose file into the stack's objects and service specs. */
export function convertStack(ns: string, file: Dict, o: ConvertOptions): StackPlan {
  const services = (file.services as Dict | undefined) ?? {};
  const topNetworks = (file.networks as Dict | undefined) ?? {};
  const topVolumes = (file.volumes as Dict | undefined) ?? {};
  const warnings: string[] = [];
  const unsupported = new Set<string>();
  const deprecated = new Set<string>();
  const secrets = objects('secret', file.secrets, ns, o);
  const configs = objects('config', file.configs, ns, o);

  const forbidden = new Set<string>();
  for (const key of Object.keys(services)) for (const k of Object.keys(FORBIDDEN)) if (k in ((services[key] as Dict | null) ?? {})) forbidden.add(k);
  if (forbidden.size)
    throw new ComposeError(`Compose file contains unsupported options:\n\n${[...forbidden].sort().map((k) => `${k}: ${FORBIDDEN[k]}`).join('\n\n')}\n`);

  const usedNetworks = new Set<string>();
  const out: StackService[] = [];
  for (const key of sortedKeys(services)) {
    const s = (services[key] as Dict | null) ?? {};
    const where = `service ${key}`;
    for (const k of UNSUPPORTED) if (k in s) unsupported.add(k);
    for (const k of Object.keys(DEPRECATED)) if (k in s) deprecated.add(k);
    const deploy = isDict(s.deploy) ? s.deploy : {};
    if ('restart' in s && isDict(deploy.restart_policy)) unsupported.add('restart');
    const image = str(s.image);
    if (s.build !== undefined) {
      if (!image) throw new ComposeError(`build is not supported in a stack: service ${key} has a build section but no image; build and push the image, then name it in image:`);
      warnings.push(`build is not supported in a stack: service ${key} is deployed from image ${image}; its build section is not used\n`);
    }
    if (!image) throw new ComposeError(`${where}: image is required`);

    const nets = serviceNetworks(s.networks);
    if (Object.keys(nets).length === 0) nets.default = null;
    const attachments = sortedKeys(nets).map((n) => {
      if (n !== 'default' && !(n in topNetworks)) throw new ComposeError(`${where}: undefined network ${JSON.stringify(n)}`);
      usedNetworks.add(n);
      const top = (topNetworks[n] as Dict | null) ?? {};
      const target = str(top.name) ?? `${ns}_${n}`;
      const cfg = nets[n] ?? {};
      const aliases = [...((cfg.aliases as string[] | undefined) ?? [])];
      if (!['default', 'bridge', 'host', 'none'].includes(target)) aliases.push(key);
      return compact({ Target: target, Aliases: aliases.length ? aliases : undefined, DriverOpts: cfg.driver_opts ? (listOrDict(cfg.driver_opts) as Record<string, string>) : undefined });
    });
    attachments.sort((a, b) => a.Target.localeCompare(b.Target));

    const ports = Array.isArray(s.ports)
      ? normalizePorts(s.ports)
          .map((p) => compact({ Protocol: p.protocol as PortConfig['Protocol'], TargetPort: p.target, PublishedPort: p.published, PublishMode: p.mode as PortConfig['PublishMode'] }))
          .sort(comparePorts)
      : [];
    const res = isDict(deploy.resources) ? deploy.resources : {};
    const limits = isDict(res.limits) ? res.limits : undefined;
    const reservations = isDict(res.reservations) ? res.reservations : undefined;
    const placement = isDict(deploy.placement) ? deploy.placement : {};
    const cmd = (v: unknown) => (v === undefined || v === null ? undefined : typeof v === 'string' ? words(v, where) : (v as unknown[]).map(String));
    const labels = stackLabels(ns, deploy.labels);
    labels[LABEL_IMAGE] = image;

    const spec: ServiceSpec = {
      Name: `${ns}_${key}`,
      Labels: labels,
      TaskTemplate: compact({
        ContainerSpec: compact({
          Image: image,
          Labels: stackLabels(ns, s.labels),
          Command: cmd(s.entrypoint),
          Args: cmd(s.command),
          Hostname: str(s.hostname),
          Env: environment(s, o, where),
          Dir: str(s.working_dir),
          User: str(s.user),
          Groups: Array.isArray(s.group_add) ? s.group_add.map(String) : undefined,
          TTY: s.tty === true ? true : undefined,
          OpenStdin: s.stdin_open === true ? true : undefined,
          ReadOnly: s.read_only === true ? true : undefined,
          Mounts: mounts(s.volumes, topVolumes, ns, o, where),
          StopSignal: str(s.stop_signal),
          StopGracePeriod: duration(s.stop_grace_period, `${where}.stop_grace_period`),
          HealthCheck: healthcheck(isDict(s.healthcheck) ? s.healthcheck : undefined, `${where}.healthcheck`),
          Hosts: extraHosts(s.extra_hosts),
          DNSConfig: s.dns !== undefined || s.dns_search !== undefined ? compact({ Nameservers: list(s.dns), Search: list(s.dns_search) }) : undefined,
          Secrets: fileTargets('secret', s.secrets, secrets, where)?.map((r): SecretRef => ({ File: r.file, SecretID: '', SecretName: r.name })),
          Configs: fileTargets('config', s.configs, configs, where)?.map((r): ConfigRef => ({ File: r.file, ConfigID: '', ConfigName: r.name })),
          Init: typeof s.init === 'boolean' ? s.init : undefined,
          Sysctls: s.sysctls !== undefined ? (listOrDict(s.sysctls) as Record<string, string>) : undefined,
          CapabilityAdd: list(s.cap_add),
          CapabilityDrop: list(s.cap_drop),
          Ulimits: ulimits(s.ulimits),
        }),
        Resources:
          limits || reservations
            ? compact({
                Limits: limits ? compact({ NanoCPUs: cpus(limits.cpus, `${where}.deploy.resources.limits.cpus`), MemoryBytes: bytes(limits.memory, `${where}.deploy.resources.limits.memory`), Pids: limits.pids === undefined ? undefined : Number(limits.pids) }) : undefined,
                Reservations: reservations ? compact({ NanoCPUs: cpus(reservations.cpus, `${where}.deploy.resources.reservations.cpus`), MemoryBytes: bytes(reservations.memory, `${where}.deploy.resources.reservations.memory`) }) : undefined,
              })
            : undefined,
        RestartPolicy: restartPolicy(deploy, s.restart, where),
        Placement: compact({
          Constraints: list(placement.constraints),
          Preferences: Array.isArray(placement.preferences) ? placement.preferences.map((p) => ({ Spread: { SpreadDescriptor: String((p as Dict).spread) } })) : undefined,
          MaxReplicas: placement.max_replicas_per_node === undefined ? undefined : Number(placement.max_replicas_per_node),
        }),
        Networks: attachments,
        LogDriver: isDict(s.logging) ? compact({ Name: str(s.logging.driver), Options: s.logging.options ? (listOrDict(s.logging.options) as Record<string, string>) : undefined }) : undefined,
      }),
      Mode: serviceMode(deploy, where),
      UpdateConfig: updateConfig(deploy.update_config, `${where}.deploy.update_config`),
      RollbackConfig: updateConfig(deploy.rollback_config, `${where}.deploy.rollback_config`),
      EndpointSpec: compact({ Mode: deploy.endpoint_mode ? (String(deploy.endpoint_mode).toLowerCase() as 'vip' | 'dnsrr') : undefined, Ports: ports.length ? ports : undefined }),
    };
    out.push({ key, spec: compact(spec), dependsOn: dependsOn(s.depends_on) });
  }

  for (const svc of out)
    for (const dep of Object.keys(svc.dependsOn)) if (!(dep in services)) throw new ComposeError(`service ${svc.key} depends on undefined service ${dep}`);

  const networks: NetworkCreateRequest[] = [];
  const externalNetworks: string[] = [];
  for (const n of [...usedNetworks].sort()) {
    const d = (topNetworks[n] as Dict | null) ?? {};
    if (d.external === true || isDict(d.external)) {
      externalNetworks.push(str(d.name) ?? (isDict(d.external) ? str(d.external.name) : undefined) ?? n);
      continue;
    }
    const ipam = isDict(d.ipam) ? d.ipam : undefined;
    networks.push(
      compact({
        Name: str(d.name) ?? `${ns}_${n}`,
        Driver: str(d.driver) ?? 'overlay',
        Internal: d.internal === true ? true : undefined,
        Attachable: d.attachable === true ? true : undefined,
        Options: d.driver_opts ? (listOrDict(d.driver_opts) as Record<string, string>) : undefined,
        IPAM: ipam ? compact({ Driver: str(ipam.driver), Config: Array.isArray(ipam.config) ? ipam.config.map((c) => ({ Subnet: String((c as Dict).subnet) })) : undefined }) : undefined,
        Labels: stackLabels(ns, d.labels),
      }),
    );
  }

  if (unsupported.size) warnings.unshift(`Ignoring unsupported options: ${[...unsupported].sort().join(', ')}\n\n`);
  if (deprecated.size) warnings.push(`Ignoring deprecated options:\n\n${[...deprecated].sort().map((k) => `${k}: ${DEPRECATED[k]}`).join('\n\n')}\n\n`);
  return { namespace: ns, networks, externalNetworks, secrets, configs, services: out, warnings };
}

const list = (v: unknown): string[] | undefined => (v === undefined || v === null ? undefined : Array.isArray(v) ? v.map(String) : [String(v)]);

/** `host:ip` (or a mapping) → SwarmKit's "ip host", order kept. */
function extraHosts(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  const pairs = Array.isArray(v) ? v.map((x) => String(x).split(/[:=](.*)/s).slice(0, 2)) : Object.entries(v as Dict).map(([h, ip]) => [h, String(ip)]);
  return pairs.filter((p) => p.length === 2).map(([h, ip]) => `${ip} ${h}`);
}

function ulimits(v: unknown): { Name: string; Soft: number; Hard: number }[] | undefined {
  if (!isDict(v)) return undefined;
  return sortedKeys(v).map((name) => {
    const u = v[name];
    if (isDict(u)) return { Name: name, Soft: Number(u.soft), Hard: Number(u.hard) };
    return { Name: name, Soft: Number(u), Hard: Number(u) };
  });
}

/** A command given as one string is split as `service create --entrypoint` splits it. */
function words(s: string, where: string): string[] {
  try {
    return shellWords(s);
  } catch (e) {
    throw new ComposeError(`${where}: ${(e as Error).message}`);
  }
}
