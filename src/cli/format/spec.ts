// Turning `service create` / `service update` flags into a ServiceSpec. Pure: no I/O.
import type { PortConfig, RestartPolicy, ServiceSpec, UpdateConfig } from '../../types';
import { parseGoDuration } from './duration';
import { parseCpus, parseMemory } from './units';

/** Flags shared by create and update (commander's camel-cased names). */
export interface SpecFlags {
  name?: string;
  replicas?: string;
  /** replicated-job: tasks run at once (default: --replicas). */
  maxConcurrent?: string;
  mode?: string;
  env?: string[];
  label?: string[];
  containerLabel?: string[];
  constraint?: string[];
  placementPref?: string[];
  network?: string[];
  publish?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  restartCondition?: string;
  restartDelay?: string;
  restartMaxAttempts?: string;
  restartWindow?: string;
  limitCpu?: string;
  limitMemory?: string;
  reserveCpu?: string;
  reserveMemory?: string;
  updateParallelism?: string;
  updateDelay?: string;
  updateFailureAction?: string;
  updateMonitor?: string;
  updateMaxFailureRatio?: string;
  updateOrder?: string;
  rollbackParallelism?: string;
  rollbackDelay?: string;
  rollbackFailureAction?: string;
  rollbackMonitor?: string;
  rollbackMaxFailureRatio?: string;
  rollbackOrder?: string;
  stopGracePeriod?: string;
  stopSignal?: string;
  endpointMode?: string;
  maxReplicas?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  tty?: boolean;
  readOnly?: boolean;
}

export class SpecError extends Error {}

function uint(v: string, flag: string): number {
  if (!/^\d+$/.test(v.trim())) throw new SpecError(`invalid argument "${v}" for "--${flag}" flag: strconv.ParseUint: parsing "${v}": invalid syntax`);
  return Number(v);
}

function duration(v: string, flag: string): number {
  try {
    return parseGoDuration(v);
  } catch (e) {
    throw new SpecError(`invalid argument "${v}" for "--${flag}" flag: ${(e as Error).message}`);
  }
}

/** "k=v" list → map (a bare "k" maps to ""). */
export function kvMap(list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const eq = kv.indexOf('=');
    out[eq < 0 ? kv : kv.slice(0, eq)] = eq < 0 ? '' : kv.slice(eq + 1);
  }
  return out;
}

/** Env list with later entries for the same key replacing earlier ones, order kept. */
export function mergeEnv(current: readonly string[], add: readonly string[], rm: readonly string[] = []): string[] {
  const key = (e: string) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e);
  let out = current.filter((e) => !rm.includes(key(e)) && !rm.includes(e));
  for (const e of add) {
    out = out.filter((x) => key(x) !== key(e));
    out.push(e);
  }
  return out;
}

/** Words of a shell-like string: whitespace separated, single and double quotes group. */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      q = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (q) throw new SpecError('EOF found when expecting closing quote');
  if (inWord) out.push(cur);
  return out;
}

/** `-p 8080:80[/udp]` or `-p published=8080,target=80,protocol=udp,mode=host`. */
export function parsePublish(v: string): PortConfig {
  if (v.includes('=')) {
    const m = kvMap(v.split(','));
    const p: PortConfig = { Protocol: (m.protocol as PortConfig['Protocol']) || 'tcp', PublishMode: (m.mode as PortConfig['PublishMode']) || 'ingress' };
    if (m.target) p.TargetPort = uint(m.target, 'publish');
    if (m.published) p.PublishedPort = uint(m.published, 'publish');
    if (!p.TargetPort) throw new SpecError(`invalid argument "${v}" for "-p, --publish" flag: missing mandatory field "target"`);
    return p;
  }
  const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp|sctp))?$/.exec(v.trim());
  if (!m) throw new SpecError(`invalid argument "${v}" for "-p, --publish" flag: invalid port`);
  return { Protocol: (m[3] as PortConfig['Protocol']) ?? 'tcp', TargetPort: Number(m[2]), ...(m[1] ? { PublishedPort: Number(m[1]) } : {}), PublishMode: 'ingress' };
}

export const DEFAULT_UPDATE: Required<UpdateConfig> = { Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' };
export const DEFAULT_RESTART: RestartPolicy = { Condition: 'any', Delay: 5e9, MaxAttempts: 0 };

function updateConfig(f: SpecFlags, kind: 'update' | 'rollback', base: UpdateConfig | undefined): UpdateConfig | undefined {
  const g = (k: string) => (f as Record<string, string | undefined>)[kind + k];
  const keys = ['Parallelism', 'Delay', 'FailureAction', 'Monitor', 'MaxFailureRatio', 'Order'];
  if (!keys.some((k) => g(k) !== undefined)) return base;
  const u: UpdateConfig = { ...DEFAULT_UPDATE, ...(base ?? {}) };
  const flag = (k: string) => `${kind}-${k}`;
  if (g('Parallelism') !== undefined) u.Parallelism = uint(g('Parallelism')!, flag('parallelism'));
  if (g('Delay') !== undefined) u.Delay = duration(g('Delay')!, flag('delay'));
  if (g('Monitor') !== undefined) u.Monitor = duration(g('Monitor')!, flag('monitor'));
  if (g('FailureAction') !== undefined) {
    const a = g('FailureAction')!;
    const ok = kind === 'update' ? ['pause', 'continue', 'rollback'] : ['pause', 'continue'];
    if (!ok.includes(a)) throw new SpecError(`invalid argument "${a}" for "--${flag('failure-action')}" flag`);
    u.FailureAction = a as UpdateConfig['FailureAction'];
  }
  if (g('MaxFailureRatio') !== undefined) u.MaxFailureRatio = Number(g('MaxFailureRatio'));
  if (g('Order') !== undefined) {
    const o = g('Order')!;
    if (o !== 'start-first' && o !== 'stop-first') throw new SpecError(`invalid argument "${o}" for "--${flag('order')}" flag`);
    u.Order = o;
  }
  return u;
}

/** Applies the flags that create and update share onto `spec` (mutated and returned). */
export function applySpecFlags(spec: ServiceSpec, f: SpecFlags): ServiceSpec {
  const tt = spec.TaskTemplate;
  const cs = (tt.ContainerSpec ??= { Image: '' });
  if (f.workdir !== undefined) cs.Dir = f.workdir;
  if (f.user !== undefined) cs.User = f.user;
  if (f.hostname !== undefined) cs.Hostname = f.hostname;
  if (f.entrypoint !== undefined) cs.Command = shellWords(f.entrypoint);
  if (f.stopSignal !== undefined) cs.StopSignal = f.stopSignal;
  if (f.stopGracePeriod !== undefined) cs.StopGracePeriod = duration(f.stopGracePeriod, 'stop-grace-period');
  if (f.tty !== undefined) cs.TTY = f.tty;
  if (f.readOnly !== undefined) cs.ReadOnly = f.readOnly;
  if (f.healthCmd !== undefined || f.healthInterval !== undefined || f.healthTimeout !== undefined || f.healthRetries !== undefined) {
    const h = { ...(cs.HealthCheck ?? {}) };
    if (f.healthCmd !== undefined) h.Test = ['CMD-SHELL', f.healthCmd];
    if (f.healthInterval !== undefined) h.Interval = duration(f.healthInterval, 'health-interval');
    if (f.healthTimeout !== undefined) h.Timeout = duration(f.healthTimeout, 'health-timeout');
    if (f.healthRetries !== undefined) h.Retries = uint(f.healthRetries, 'health-retries');
    cs.HealthCheck = h;
  }
  if (f.restartCondition !== undefined || f.restartDelay !== undefined || f.restartMaxAttempts !== undefined || f.restartWindow !== undefined) {
    const r: RestartPolicy = { ...DEFAULT_RESTART, ...(tt.RestartPolicy ?? {}) };
    if (f.restartCondition !== undefined) {
      if (!['none', 'on-failure', 'any'].includes(f.restartCondition)) throw new SpecError(`invalid restart policy condition: ${f.restartCondition}`);
      r.Condition = f.restartCondition as RestartPolicy['Condition'];
    }
    if (f.restartDelay !== undefined) r.Delay = duration(f.restartDelay, 'restart-delay');
    if (f.restartMaxAttempts !== undefined) r.MaxAttempts = uint(f.restartMaxAttempts, 'restart-max-attempts');
    if (f.restartWindow !== undefined) r.Window = duration(f.restartWindow, 'restart-window');
    tt.RestartPolicy = r;
  }
  const resOf = (cpu?: string, mem?: string, base?: { NanoCPUs?: number; MemoryBytes?: number }) => {
    if (cpu === undefined && mem === undefined) return base;
    const r = { ...(base ?? {}) };
    try {
      if (cpu !== undefined) r.NanoCPUs = parseCpus(cpu);
      if (mem !== undefined) r.MemoryBytes = parseMemory(mem);
    } catch (e) {
      throw new SpecError((e as Error).message);
    }
    return r;
  };
  const limits = resOf(f.limitCpu, f.limitMemory, tt.Resources?.Limits);
  const reservations = resOf(f.reserveCpu, f.reserveMemory, tt.Resources?.Reservations);
  if (limits || reservations) tt.Resources = { ...(limits ? { Limits: limits } : {}), ...(reservations ? { Reservations: reservations } : {}) };
  if (f.maxReplicas !== undefined) tt.Placement = { ...(tt.Placement ?? {}), MaxReplicas: uint(f.maxReplicas, 'replicas-max-per-node') };
  // The docker CLI's texts (cli/command/service/opts.go): a job's --replicas is its TotalCompletions.
  if (f.replicas !== undefined) {
    if (spec.Mode.Replicated) spec.Mode.Replicated.Replicas = uint(f.replicas, 'replicas');
    else if (spec.Mode.ReplicatedJob) spec.Mode.ReplicatedJob.TotalCompletions = uint(f.replicas, 'replicas');
    else throw new SpecError('replicas can only be used with replicated or replicated-job mode');
  }
  if (f.maxConcurrent !== undefined) {
    if (!spec.Mode.ReplicatedJob) throw new SpecError('max-concurrent can only be used with replicated-job mode');
    spec.Mode.ReplicatedJob.MaxConcurrent = uint(f.maxConcurrent, 'max-concurrent');
  }
  if (f.endpointMode !== undefined) {
    if (f.endpointMode !== 'vip' && f.endpointMode !== 'dnsrr') throw new SpecError(`invalid endpoint mode: ${f.endpointMode}`);
    spec.EndpointSpec = { ...(spec.EndpointSpec ?? {}), Mode: f.endpointMode };
  }
  const u = updateConfig(f, 'update', spec.UpdateConfig);
  if (u) spec.UpdateConfig = u;
  const r = updateConfig(f, 'rollback', spec.RollbackConfig);
  if (r) spec.RollbackConfig = r;
  return spec;
}

/** The spec `service create [flags] IMAGE [ARG...]` sends: arguments after IMAGE are ContainerSpec.Args. */
export function createSpec(image: string, args: readonly string[], f: SpecFlags): ServiceSpec {
  const mode = f.mode ?? 'replicated';
  const modes: Record<string, ServiceSpec['Mode']> = { replicated: { Replicated: { Replicas: 1 } }, global: { Global: {} }, 'replicated-job': { ReplicatedJob: {} }, 'global-job': { GlobalJob: {} } };
  if (!modes[mode]) throw new SpecError(`Unknown mode: ${mode}, only replicated and global supported`);
  const spec: ServiceSpec = {
    Name: f.name ?? '',
    Labels: kvMap(f.label),
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        ...(args.length ? { Args: [...args] } : {}),
        ...(f.env?.length ? { Env: mergeEnv([], f.env) } : {}),
        ...(f.containerLabel?.length ? { Labels: kvMap(f.containerLabel) } : {}),
      },
      Placement: {
        ...(f.constraint?.length ? { Constraints: [...f.constraint] } : {}),
        ...(f.placementPref?.length ? { Preferences: f.placementPref.map(spreadPref) } : {}),
      },
      ...(f.network?.length ? { Networks: f.network.map((n) => ({ Target: n })) } : {}),
    },
    Mode: modes[mode]!,
    EndpointSpec: { Mode: 'vip', ...(f.publish?.length ? { Ports: f.publish.map(parsePublish) } : {}) },
  };
  const out = applySpecFlags(spec, f);
  // the CLI's job default: as many at once as completions asked for
  const job = out.Mode.ReplicatedJob;
  if (job && job.MaxConcurrent === undefined && job.TotalCompletions !== undefined) job.MaxConcurrent = job.TotalCompletions;
  return out;
}

export function spreadPref(v: string): { Spread: { SpreadDescriptor: string } } {
  const [strategy, arg, ...rest] = v.split('=');
  if (arg === undefined || rest.length) throw new SpecError('placement preference must be of the format "<strategy>=<arg>"');
  if (strategy !== 'spread') throw new SpecError(`unsupported placement preference ${strategy} (only spread is supported)`);
  return { Spread: { SpreadDescriptor: arg } };
}

/** Update-only flags: the *-add / *-rm lists, --image, --args, --force. */
export interface UpdateFlags extends SpecFlags {
  image?: string;
  args?: string;
  envAdd?: string[];
  envRm?: string[];
  labelAdd?: string[];
  labelRm?: string[];
  containerLabelAdd?: string[];
  containerLabelRm?: string[];
  constraintAdd?: string[];
  constraintRm?: string[];
  publishAdd?: string[];
  publishRm?: string[];
  force?: boolean;
}

/** The spec `service update` sends, from the current spec and the flags. */
export function updateSpec(current: ServiceSpec, f: UpdateFlags): ServiceSpec {
  const spec = structuredClone(current);
  const tt = spec.TaskTemplate;
  const cs = (tt.ContainerSpec ??= { Image: '' });
  if (f.image !== undefined) cs.Image = f.image;
  if (f.args !== undefined) cs.Args = shellWords(f.args);
  if (f.envAdd?.length || f.envRm?.length) cs.Env = mergeEnv(cs.Env ?? [], f.envAdd ?? [], f.envRm ?? []);
  if (f.labelAdd?.length || f.labelRm?.length) spec.Labels = editMap(spec.Labels, f.labelAdd, f.labelRm);
  if (f.containerLabelAdd?.length || f.containerLabelRm?.length) cs.Labels = editMap(cs.Labels, f.containerLabelAdd, f.containerLabelRm);
  if (f.constraintAdd?.length || f.constraintRm?.length) {
    const rmKeys = new Set((f.constraintRm ?? []).map((c) => c.trim()));
    const list = (tt.Placement?.Constraints ?? []).filter((c) => !rmKeys.has(c.trim()));
    for (const c of f.constraintAdd ?? []) if (!list.includes(c)) list.push(c);
    tt.Placement = { ...(tt.Placement ?? {}), Constraints: list };
  }
  if (f.publishAdd?.length || f.publishRm?.length) {
    const rm = new Set(f.publishRm ?? []);
    let ports = (spec.EndpointSpec?.Ports ?? []).filter((p) => !rm.has(String(p.TargetPort)) && !rm.has(`${p.TargetPort}/${p.Protocol ?? 'tcp'}`) && !rm.has(`${p.PublishedPort}:${p.TargetPort}`));
    for (const v of f.publishAdd ?? []) {
      const p = parsePublish(v);
      ports = ports.filter((x) => !(x.TargetPort === p.TargetPort && (x.Protocol ?? 'tcp') === p.Protocol));
      ports.push(p);
    }
    spec.EndpointSpec = { ...(spec.EndpointSpec ?? {}), Ports: ports };
  }
  if (f.force) tt.ForceUpdate = (tt.ForceUpdate ?? 0) + 1;
  return applySpecFlags(spec, f);
}

function editMap(base: Record<string, string> | undefined, add: readonly string[] | undefined, rm: readonly string[] | undefined): Record<string, string> {
  const m = { ...(base ?? {}), ...kvMap(add) };
  for (const k of rm ?? []) delete m[k];
  return m;
}
