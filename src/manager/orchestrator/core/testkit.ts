// Fixtures for this component's tests (pure; not used by production code).
import type { Node, Service, ServiceMode, Task, TaskState, TaskSpec } from '../../../types';

export const T0 = Date.UTC(2024, 0, 1);

export function mkService(id: string, opts: { replicas?: number; global?: boolean; mode?: ServiceMode; spec?: Partial<TaskSpec>; version?: number; jobIteration?: number; createdAt?: string } = {}): Service {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: opts.createdAt ?? '',
    UpdatedAt: '',
    Spec: {
      Name: id,
      TaskTemplate: { ContainerSpec: { Image: 'nginx' }, ...(opts.spec ?? {}) },
      Mode: opts.mode ?? (opts.global ? { Global: {} } : { Replicated: { Replicas: opts.replicas ?? 1 } }),
    },
    Endpoint: { Spec: {} },
    ...(opts.mode?.ReplicatedJob || opts.mode?.GlobalJob ? { JobStatus: { JobIteration: { Index: opts.jobIteration ?? 0 }, LastExecution: new Date(T0).toISOString() } } : {}),
    internal: { specVersion: opts.version ?? 1 },
  };
}

export function mkNode(id: string, opts: { state?: Node['Status']['State']; availability?: Node['Spec']['Availability']; labels?: Record<string, string>; role?: 'worker' | 'manager'; cpu?: number; mem?: number; os?: string; arch?: string; createdAt?: string } = {}): Node {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: opts.createdAt ?? '',
    UpdatedAt: '',
    Spec: { Role: opts.role ?? 'worker', Availability: opts.availability ?? 'active', Labels: opts.labels ?? {} },
    Description: {
      Hostname: `host-${id}`,
      Platform: { OS: opts.os ?? 'linux', Architecture: opts.arch ?? 'x86_64' },
      Resources: { NanoCPUs: opts.cpu ?? 4e9, MemoryBytes: opts.mem ?? 8 * 2 ** 30 },
      Engine: { EngineVersion: '27.0.0' },
    },
    Status: { State: opts.state ?? 'ready', Addr: '10.0.0.1' },
  };
}

let seq = 0;
export function mkTask(s: Service, opts: { id?: string; slot?: number; node?: string; state?: TaskState; desired?: TaskState; created?: number; version?: number; spec?: Partial<TaskSpec>; jobIteration?: number } = {}): Task {
  const created = new Date(opts.created ?? T0 + seq++).toISOString();
  return {
    ID: opts.id ?? `t${seq++}`,
    Version: { Index: 1 },
    CreatedAt: created,
    UpdatedAt: created,
    Labels: {},
    Spec: { ...s.Spec.TaskTemplate, ...(opts.spec ?? {}) },
    ServiceID: s.ID,
    ...(opts.slot !== undefined ? { Slot: opts.slot } : {}),
    ...(opts.node !== undefined ? { NodeID: opts.node } : {}),
    Status: { Timestamp: created, State: opts.state ?? 'running', Message: '' },
    DesiredState: opts.desired ?? 'running',
    ...(opts.jobIteration !== undefined ? { JobIteration: { Index: opts.jobIteration } } : {}),
    internal: { specVersion: opts.version ?? s.internal.specVersion, serviceName: s.Spec.Name },
  };
}

export function idGen(prefix = 'n'): () => string {
  let i = 0;
  return () => `${prefix}${++i}`;
}
