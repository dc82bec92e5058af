import { invalidArgument } from '../lib/errors';
import { parseConstraints } from './constraints';
import type { NodeSpec } from './node';
import type { ServiceSpec, UpdateConfig } from './service';
import type { HealthConfig } from './task';

// Spec validation with swarmkit's wording: the daemon passes these texts through to the CLI,
// prefixed the way gRPC errors print ("rpc error: code = InvalidArgument desc = …"). The control
// API runs these on every write; the orchestrators run validateServiceSpec again on what they read
// from the store, so a spec an older version let into the log is skipped, never executed.

/**
 * The most replicas one service may ask for. Docker has no cap, but a count no cluster can hold
 * (1e19) would make the orchestrator allocate tasks until the heap is gone. 1,000,000 is ten times
 * the largest service we aim to run (100,000 replicas, issue 15); the orchestrator also creates at
 * most a bounded batch of tasks per pass, so even an allowed count never blocks the manager.
 */
export const MAX_REPLICAS = 1_000_000;

/** Mount types swarmkit knows (dockerd matches them case-insensitively). */
const MOUNT_TYPES = ['bind', 'volume', 'tmpfs', 'npipe', 'cluster'];

export const grpcText = (code: string, desc: string): string => `rpc error: code = ${code} desc = ${desc}`;
const invalid = (desc: string) => invalidArgument(grpcText('InvalidArgument', desc));

// A DNS label component: letters, digits, '-' and '_' inside, alphanumeric at both ends, at most 63.
const NAME_RE = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

export function validateName(name: string | undefined): void {
  if (!name) throw invalid('meta: name must be provided');
  if (typeof name !== 'string') throw invalid('meta: name must be a string');
  if (name.length > 63 || !NAME_RE.test(name)) throw invalid('name must be valid as a DNS name component');
}

function validateUpdateConfig(c: UpdateConfig | undefined, what: string): void {
  if (!c) return;
  if ((c.Parallelism ?? 0) < 0) throw invalid(`${what}: parallelism cannot be negative`);
  if ((c.Delay ?? 0) < 0) throw invalid(`${what}: delay cannot be negative`);
  if ((c.Monitor ?? 0) < 0) throw invalid(`${what}: monitor cannot be negative`);
  const r = c.MaxFailureRatio ?? 0;
  if (r < 0 || r > 1) throw invalid(`${what}: max failure ratio must be between 0 and 1`);
  if (c.FailureAction && !['pause', 'continue', 'rollback'].includes(c.FailureAction)) throw invalid(`${what}: unrecognized failure action ${c.FailureAction}`);
  if (c.Order && !['stop-first', 'start-first'].includes(c.Order)) throw invalid(`${what}: unrecognized order ${c.Order}`);
}

/** Placement constraints, parsed by the scheduler's own parser: what passes here is what it applies. */
export function validateConstraints(cs: string[] | undefined): void {
  if (!cs || cs.length === 0) return;
  const r = parseConstraints(cs);
  if ('error' in r) throw invalid(r.error);
}

function validateResources(r: { NanoCPUs?: number; MemoryBytes?: number; Pids?: number } | undefined): void {
  if (!r) return;
  for (const [k, v] of Object.entries(r)) {
    if (typeof v === 'number' && v < 0) throw invalid(`TaskSpec: ${k} cannot be negative`);
  }
  // swarmkit's minimums (validateResources): a CPU below 0.001 or memory below 4 MiB cannot run.
  const cpu = r.NanoCPUs ?? 0;
  if (cpu !== 0 && cpu < 1e6) throw invalid(`invalid cpu value ${cpu / 1e9}: Must be at least ${1e6 / 1e9}`);
  const mem = r.MemoryBytes ?? 0;
  if (mem !== 0 && mem < 4 * 1024 * 1024) throw invalid(`invalid memory value ${mem}: Must be at least 4MiB`);
}

/** swarmkit's shortest health-check duration (1ms); 0 means "inherit from the image". */
const MIN_HEALTH_DURATION_NS = 1e6;

function validateHealthCheck(hc: HealthConfig | undefined): void {
  if (!hc) return;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = hc[k] ?? 0;
    if (v !== 0 && v < MIN_HEALTH_DURATION_NS) throw invalid(`ContainerSpec: ${k} in HealthConfig cannot be less than 1ms`);
  }
  if ((hc.Retries ?? 0) < 0) throw invalid('ContainerSpec: Retries in HealthConfig cannot be negative');
}

/** Where a path is absolute on the daemon's OS (Linux; a Windows drive path for npipe-style specs). */
const isAbsolutePath = (p: string): boolean => p.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(p);

export function validateServiceSpec(spec: ServiceSpec): void {
  if (!spec || typeof spec !== 'object') throw invalid('service spec must be provided');
  validateName(spec.Name);
  for (const [k, v] of Object.entries(spec.Labels ?? {})) {
    if (typeof v !== 'string') throw invalid(`labels: value of ${k} must be a string`);
  }
  const t = spec.TaskTemplate;
  if (!t) throw invalid('TaskTemplate: must be provided');
  if (t.PluginSpec || t.NetworkAttachmentSpec) throw invalid('TaskTemplate: only container runtime is supported');
  const c = t.ContainerSpec;
  if (!c) throw invalid('TaskTemplate: ContainerSpec must be provided');
  if (!c.Image) throw invalid('ContainerSpec: image reference must be provided');
  if (typeof c.Image !== 'string') throw invalid('ContainerSpec: image reference must be a string');
  if (/\s/.test(c.Image)) throw invalid(`ContainerSpec: "${c.Image}" is not a valid repository/tag`);
  if ((c.StopGracePeriod ?? 0) < 0) throw invalid('ContainerSpec: StopGracePeriod cannot be negative');
  validateHealthCheck(c.HealthCheck);
  if (c.Args !== undefined && c.Args !== null && !Array.isArray(c.Args)) throw invalid('ContainerSpec: Args must be a list of strings');
  if (c.Env !== undefined && c.Env !== null && !Array.isArray(c.Env)) throw invalid('ContainerSpec: Env must be a list of strings');
  if (c.Mounts !== undefined && c.Mounts !== null && !Array.isArray(c.Mounts)) throw invalid('ContainerSpec: Mounts must be a list');
  const targets = new Set<string>();
  for (const m of c.Mounts ?? []) {
    if (!m || typeof m !== 'object') throw invalid('ContainerSpec: invalid mount');
    const type = String(m.Type ?? '').toLowerCase();
    // dockerd's converter (daemon/cluster/convert) refuses a type swarmkit has no value for.
    if (!MOUNT_TYPES.includes(type)) throw invalid(`invalid MountType: ${JSON.stringify(String(m.Type ?? ''))}`);
    if (!m.Target) throw invalid('ContainerSpec: mount target must be provided');
    if (targets.has(m.Target)) throw invalid(`ContainerSpec: duplicate mount point: ${m.Target}`);
    targets.add(m.Target);
    if (type === 'bind') {
      if (!m.Source) throw invalid(`ContainerSpec: invalid bind mount source, source is required`);
      if (!isAbsolutePath(m.Source)) throw invalid(`invalid bind mount source, must be an absolute path: ${m.Source}`);
    }
  }
  const r = t.RestartPolicy;
  if (r) {
    if ((r.Delay ?? 0) < 0) throw invalid('TaskSpec: restart-delay cannot be negative');
    if ((r.Window ?? 0) < 0) throw invalid('TaskSpec: restart-window cannot be negative');
    if ((r.MaxAttempts ?? 0) < 0) throw invalid('TaskSpec: restart-max-attempts cannot be negative');
    if (r.Condition && !['none', 'on-failure', 'any'].includes(r.Condition)) throw invalid(`TaskSpec: unrecognized restart condition ${r.Condition}`);
  }
  validateResources(t.Resources?.Limits);
  validateResources(t.Resources?.Reservations);
  validateConstraints(t.Placement?.Constraints);
  const mode = spec.Mode ?? {};
  const modes = ['Replicated', 'Global', 'ReplicatedJob', 'GlobalJob'].filter((m) => (mode as Record<string, unknown>)[m] !== undefined);
  if (modes.length > 1) throw invalid('service mode: only one mode may be set');
  if (mode.ReplicatedJob) {
    // swarmkit's validateMode: both counts are unsigned; the daemon defaults them before they get here.
    for (const [k, v] of Object.entries({ MaxConcurrent: mode.ReplicatedJob.MaxConcurrent, TotalCompletions: mode.ReplicatedJob.TotalCompletions })) {
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`${k} must be an integer, got ${JSON.stringify(v)}`);
      if (v < 0) throw invalid(`${k} must be non-negative`);
      if (v > MAX_REPLICAS) throw invalid(`${k} must be at most ${MAX_REPLICAS}, got ${v}`);
    }
  }
  if (mode.Replicated) {
    const n = mode.Replicated.Replicas ?? 1;
    // The API edge refuses a non-integer by its JSON type; a spec from an older log may still hold one.
    if (typeof n !== 'number' || !Number.isInteger(n)) throw invalid(`Number of replicas must be an integer, got ${JSON.stringify(n)}`);
    if (n < 0) throw invalid('Number of replicas must be non-negative');
    if (n > MAX_REPLICAS) throw invalid(`Number of replicas must be at most ${MAX_REPLICAS}, got ${n}`);
  }
  if ((mode.Global || mode.GlobalJob) && t.Placement?.MaxReplicas) throw invalid('ContainerSpec: MaxReplicas can be used only with replicated mode');
  validateUpdateConfig(spec.UpdateConfig, 'UpdateConfig');
  validateUpdateConfig(spec.RollbackConfig, 'RollbackConfig');
  for (const p of spec.EndpointSpec?.Ports ?? []) {
    if (!p.TargetPort || p.TargetPort < 1 || p.TargetPort > 65535) throw invalid('EndpointSpec: invalid target port');
    if (p.PublishedPort !== undefined && (p.PublishedPort < 0 || p.PublishedPort > 65535)) throw invalid('EndpointSpec: invalid published port');
  }
  validateEndpointSpec(spec.EndpointSpec);
}

/** swarmkit's validateEndpointSpec: unique ingress ports within a spec, no ingress port in dnsrr mode. */
function validateEndpointSpec(ep: { Mode?: string; Ports?: { Protocol?: string; PublishedPort?: number; PublishMode?: string }[] } | undefined): void {
  if (!ep) return;
  const ingress = (ep.Ports ?? []).filter((p) => (p.PublishMode ?? 'ingress') === 'ingress');
  if (ep.Mode === 'dnsrr' && ingress.length) throw invalid("EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
  const seen = new Set<string>();
  for (const p of ingress) {
    if (!p.PublishedPort) continue;
    const k = `${p.Protocol ?? 'tcp'}/${p.PublishedPort}`;
    if (seen.has(k)) throw invalid('EndpointSpec: duplicate published ports provided');
    seen.add(k);
  }
}


/** Why a stored spec must not be executed, or undefined when it passes validateServiceSpec. */
export function specProblem(spec: ServiceSpec): string | undefined {
  try {
    validateServiceSpec(spec);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Normalizes a spec the API received: a missing mode is replicated with 1 replica, as in Docker. */
export function normalizeServiceSpec(spec: ServiceSpec): ServiceSpec {
  const s = structuredClone(spec);
  if (!s.Mode || Object.keys(s.Mode).length === 0) s.Mode = { Replicated: { Replicas: 1 } };
  if (s.Mode.Replicated && s.Mode.Replicated.Replicas === undefined) s.Mode.Replicated.Replicas = 1;
  // The daemon's defaults (daemon/cluster/convert): MaxConcurrent 1, TotalCompletions = MaxConcurrent.
  if (s.Mode.ReplicatedJob) {
    const maxConcurrent = s.Mode.ReplicatedJob.MaxConcurrent ?? 1;
    s.Mode.ReplicatedJob = { MaxConcurrent: maxConcurrent, TotalCompletions: s.Mode.ReplicatedJob.TotalCompletions ?? maxConcurrent };
  }
  if (!s.Labels) s.Labels = {};
  if (!s.TaskTemplate.ForceUpdate) s.TaskTemplate.ForceUpdate = 0;
  if (!s.EndpointSpec) s.EndpointSpec = { Mode: 'vip' };
  return s;
}

export function validateNodeSpec(spec: NodeSpec): void {
  if (!spec || typeof spec !== 'object') throw invalid('node spec must be provided');
  if (!['worker', 'manager'].includes(spec.Role)) throw invalid(`invalid role ${String(spec.Role)}`);
  if (!['active', 'pause', 'drain'].includes(spec.Availability)) throw invalid(`invalid availability ${String(spec.Availability)}`);
}
