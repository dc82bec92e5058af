// Field names of request bodies, as dockerd reads them. Go's encoding/json matches object keys to
// struct fields case-insensitively, and clients rely on it: docker-py sends a service's mode as
// `{"replicated": {"Replicas": 3}}`. Bodies are therefore rewritten to the canonical spelling before
// the backend sees them. Keys inside maps (labels, driver options, sysctls) are user data and kept.
//
// One wire name differs from the internal one: the Engine API's ContainerSpec `Healthcheck` is
// stored as `HealthCheck` (src/types), and is renamed back on the way out.

const FIELDS = `
Name Labels TaskTemplate Mode UpdateConfig RollbackConfig Networks EndpointSpec
Replicated Replicas Global ReplicatedJob MaxConcurrent TotalCompletions GlobalJob
Parallelism Delay FailureAction Monitor MaxFailureRatio Order
Ports Protocol TargetPort PublishedPort PublishMode
PluginSpec Remote Disabled PluginPrivilege Description Value
ContainerSpec NetworkAttachmentSpec ContainerID Resources Limits Reservations NanoCPUs MemoryBytes Pids
GenericResources NamedResourceSpec DiscreteResourceSpec Kind
RestartPolicy Condition MaxAttempts Window
Placement Constraints Preferences Spread SpreadDescriptor MaxReplicas Platforms Architecture OS
ForceUpdate Runtime Target Aliases DriverOpts LogDriver Options
Image Command Args Hostname Env Dir User Groups
Privileges CredentialSpec Config File Registry SELinuxContext Disable Role Type Level Seccomp Profile AppArmor NoNewPrivileges
TTY OpenStdin ReadOnly Mounts Source Consistency
BindOptions Propagation NonRecursive CreateMountpoint ReadOnlyNonRecursive ReadOnlyForceRecursive
VolumeOptions NoCopy DriverConfig Subpath TmpfsOptions SizeBytes
StopSignal StopGracePeriod HealthCheck Test Interval Timeout Retries StartPeriod StartInterval
Hosts DNSConfig Nameservers Search Secrets UID GID SecretID SecretName Configs ConfigID ConfigName
Isolation Init Sysctls CapabilityAdd CapabilityDrop Ulimits Soft Hard OomScoreAdj
Orchestration TaskHistoryRetentionLimit Raft SnapshotInterval KeepOldSnapshots LogEntriesForSlowFollowers ElectionTick HeartbeatTick
Dispatcher HeartbeatPeriod CAConfig NodeCertExpiry ExternalCAs URL CACert SigningCACert SigningCAKey ForceRotate
EncryptionConfig AutoLockManagers TaskDefaults
Availability
ListenAddr AdvertiseAddr DataPathAddr DataPathPort DefaultAddrPool ForceNewCluster SubnetSize Spec
RemoteAddrs JoinToken UnlockKey
Driver Scope Internal Attachable Ingress ConfigOnly ConfigFrom Network EnableIPv4 EnableIPv6 IPAM Subnet IPRange Gateway AuxiliaryAddresses CheckDuplicate
`;

const CANONICAL = new Map<string, string>();
for (const f of FIELDS.split(/\s+/).filter(Boolean)) CANONICAL.set(f.toLowerCase(), f);

/** Fields whose value is a string map: its keys are not field names. */
const MAP_FIELDS = new Set(['Labels', 'Options', 'DriverOpts', 'Sysctls', 'AuxiliaryAddresses']);

/** The canonical spelling of a request field, or undefined when it is not a known one. */
export const canonicalField = (key: string): string | undefined => CANONICAL.get(key.toLowerCase());

/**
 * Rewrites object keys of a request body to their canonical spelling, recursively, as Go's decoder
 * would match them (an exact match wins; later duplicates overwrite earlier ones). Unknown keys are
 * kept as they are. `DNSConfig.Options` and `TmpfsOptions.Options` are arrays and pass unchanged.
 */
export function canonicalizeFields<T>(value: T): T {
  return fold(value) as T;
}

function fold(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fold);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = k === 'Healthcheck' ? 'HealthCheck' : (canonicalField(k) ?? k);
    const folded = MAP_FIELDS.has(key) && v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...(v as object) } : fold(v);
    // A `__proto__` key is data (JSON.parse makes it an own property): assigning it would swap the prototype.
    if (key === '__proto__') Object.defineProperty(out, key, { value: folded, enumerable: true, writable: true, configurable: true });
    else out[key] = folded;
  }
  return out;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A ContainerSpec as the Engine API shows it: `Healthcheck` spelled as on the wire, and without the
 * registry credentials the daemon keeps for the pull (`PullOptions`, swarmkit-only: moby's
 * conversion to the API types drops it, so `service inspect` never shows it).
 */
function wireContainerSpec(cs: unknown): unknown {
  if (!isObj(cs) || !('HealthCheck' in cs || 'PullOptions' in cs)) return cs;
  const out: Obj = {};
  for (const [k, v] of Object.entries(cs)) {
    if (k === 'PullOptions') continue;
    out[k === 'HealthCheck' ? 'Healthcheck' : k] = v;
  }
  return out;
}

function wireTaskSpec(ts: unknown): unknown {
  if (!isObj(ts) || !isObj(ts.ContainerSpec)) return ts;
  const cs = wireContainerSpec(ts.ContainerSpec);
  return cs === ts.ContainerSpec ? ts : { ...ts, ContainerSpec: cs };
}

/**
 * Sets a service spec's registry credentials as dockerd does on create/update: the encoded
 * X-Registry-Auth header, when the client sent one, becomes `ContainerSpec.PullOptions`; anything
 * a client put there in the body is dropped (the Engine API has no such field).
 */
export function withRegistryAuth<T extends { TaskTemplate?: { ContainerSpec?: object } }>(spec: T, header: string | string[] | undefined): T {
  const cs = spec.TaskTemplate?.ContainerSpec as Obj | undefined;
  if (!isObj(cs)) return spec;
  delete cs.PullOptions;
  const auth = Array.isArray(header) ? header[0] : header;
  if (auth) cs.PullOptions = { RegistryAuth: auth };
  return spec;
}

function wireServiceSpec(spec: unknown): unknown {
  if (!isObj(spec) || !('TaskTemplate' in spec)) return spec;
  const tt = wireTaskSpec(spec.TaskTemplate);
  return tt === spec.TaskTemplate ? spec : { ...spec, TaskTemplate: tt };
}

/** A job iteration as Go marshals swarm.Version (`Index` is omitempty): iteration 0 is `{}`, as Docker sends it. */
const versionOnWire = (v: unknown): unknown => (isObj(v) && v.Index === 0 ? {} : v);

function wireJobStatus(js: unknown): unknown {
  if (!isObj(js)) return js;
  const it = versionOnWire(js.JobIteration);
  return it === js.JobIteration ? js : { ...js, JobIteration: it };
}

/** A service as the Engine API shows it (Spec and PreviousSpec with wire field names, JobStatus as Go prints it). */
export function serviceOnWire<T extends object>(s: T): T {
  const o = s as Obj;
  const spec = wireServiceSpec(o.Spec);
  const prev = wireServiceSpec(o.PreviousSpec);
  const job = wireJobStatus(o.JobStatus);
  if (spec === o.Spec && prev === o.PreviousSpec && job === o.JobStatus) return s;
  const out: Obj = { ...o, Spec: spec };
  if ('PreviousSpec' in o) out.PreviousSpec = prev;
  if ('JobStatus' in o) out.JobStatus = job;
  return out as T;
}

/** A task as the Engine API shows it. */
export function taskOnWire<T extends object>(t: T): T {
  const o = t as Obj;
  const spec = wireTaskSpec(o.Spec);
  const it = versionOnWire(o.JobIteration);
  if (spec === o.Spec && it === o.JobIteration) return t;
  return { ...o, Spec: spec, ...('JobIteration' in o ? { JobIteration: it } : {}) } as T;
}
