import { invalidArgument } from '../../../lib/errors';
import type { NodeSpec, ServiceSpec, UpdateConfig } from '../../../types';

// Spec validation with swarmkit's wording: the daemon passes these texts through to the CLI,
// prefixed the way gRPC errors print ("rpc error: code = InvalidArgument desc = …").

export const grpcText = (code: string, desc: string): string => `rpc error: code = ${code} desc = ${desc}`;
const invalid = (desc: string) => invalidArgument(grpcText('InvalidArgument', desc));

// A DNS label component: letters, digits, '-' and '_' inside, alphanumeric at both ends, at most 63.
const NAME_RE = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

export function validateName(name: string | undefined): void {
  if (!name) throw invalid('meta: name must be provided');
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

const CONSTRAINT_RE = /^\s*([\w.-]+)\s*(==|!=)\s*(.+?)\s*$/;

export function validateConstraints(cs: string[] | undefined): void {
  for (const c of cs ?? []) {
    if (!CONSTRAINT_RE.test(c)) throw invalid(`invalid constraint: ${c}`);
  }
}

export function validateServiceSpec(spec: ServiceSpec): void {
  if (!spec || typeof spec !== 'object') throw invalid('service spec must be provided');
  validateName(spec.Name);
  const t = spec.TaskTemplate;
  if (!t) throw invalid('TaskTemplate: must be provided');
  if (t.PluginSpec || t.NetworkAttachmentSpec) throw invalid('TaskTemplate: only container runtime is supported');
  const c = t.ContainerSpec;
  if (!c) throw invalid('TaskTemplate: ContainerSpec must be provided');
  if (!c.Image) throw invalid('ContainerSpec: image reference must be provided');
  if (/\s/.test(c.Image)) throw invalid(`ContainerSpec: "${c.Image}" is not a valid repository/tag`);
  if ((c.StopGracePeriod ?? 0) < 0) throw invalid('ContainerSpec: StopGracePeriod cannot be negative');
  for (const m of c.Mounts ?? []) {
    if (!m.Target) throw invalid('ContainerSpec: mount target must be provided');
    if (m.Type === 'bind' && !m.Source) throw invalid(`ContainerSpec: invalid bind mount source, source is required`);
  }
  const r = t.RestartPolicy;
  if (r) {
    if ((r.Delay ?? 0) < 0) throw invalid('TaskSpec: restart-delay cannot be negative');
    if ((r.Window ?? 0) < 0) throw invalid('TaskSpec: restart-window cannot be negative');
    if ((r.MaxAttempts ?? 0) < 0) throw invalid('TaskSpec: restart-max-attempts cannot be negative');
    if (r.Condition && !['none', 'on-failure', 'any'].includes(r.Condition)) throw invalid(`TaskSpec: unrecognized restart condition ${r.Condition}`);
  }
  const res = t.Resources;
  for (const [k, v] of Object.entries({ ...res?.Limits, ...res?.Reservations })) {
    if (typeof v === 'number' && v < 0) throw invalid(`TaskSpec: ${k} cannot be negative`);
  }
  validateConstraints(t.Placement?.Constraints);
  const mode = spec.Mode ?? {};
  const modes = ['Replicated', 'Global', 'ReplicatedJob', 'GlobalJob'].filter((m) => (mode as Record<string, unknown>)[m] !== undefined);
  if (modes.length > 1) throw invalid('service mode: only one mode may be set');
  if (mode.ReplicatedJob || mode.GlobalJob) throw invalid('service mode: jobs are not supported yet');
  if (mode.Replicated && (mode.Replicated.Replicas ?? 1) < 0) throw invalid('Replicas: must be non-negative');
  if (mode.Global && t.Placement?.MaxReplicas) throw invalid('ContainerSpec: MaxReplicas can be used only with replicated mode');
  validateUpdateConfig(spec.UpdateConfig, 'UpdateConfig');
  validateUpdateConfig(spec.RollbackConfig, 'RollbackConfig');
  for (const p of spec.EndpointSpec?.Ports ?? []) {
    if (!p.TargetPort || p.TargetPort < 1 || p.TargetPort > 65535) throw invalid('EndpointSpec: invalid target port');
    if (p.PublishedPort !== undefined && (p.PublishedPort < 0 || p.PublishedPort > 65535)) throw invalid('EndpointSpec: invalid published port');
  }
}

/** Normalizes a spec the API received: a missing mode is replicated with 1 replica, as in Docker. */
export function normalizeServiceSpec(spec: ServiceSpec): ServiceSpec {
  const s = structuredClone(spec);
  if (!s.Mode || Object.keys(s.Mode).length === 0) s.Mode = { Replicated: { Replicas: 1 } };
  if (s.Mode.Replicated && s.Mode.Replicated.Replicas === undefined) s.Mode.Replicated.Replicas = 1;
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
