import type { Labels, Meta, Platform, ResourceObject } from './common';
import type { NetworkAttachment, TaskEndpoint } from './network';
import type { ConfigReference, SecretReference } from './secret';
import type { TaskState } from './task-state';

export interface Mount {
  Target: string;
  Source?: string;
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image';
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: Record<string, unknown>;
  VolumeOptions?: Record<string, unknown>;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface HealthConfig {
  Test?: string[];
  /** Nanoseconds. */
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

export interface ContainerSpec {
  Image: string;
  Labels?: Labels;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  Groups?: string[];
  TTY?: boolean;
  OpenStdin?: boolean;
  ReadOnly?: boolean;
  Mounts?: Mount[];
  StopSignal?: string;
  /** Nanoseconds. */
  StopGracePeriod?: number;
  HealthCheck?: HealthConfig;
  Hosts?: string[];
  DNSConfig?: { Nameservers?: string[]; Search?: string[]; Options?: string[] };
  Secrets?: SecretReference[];
  Configs?: ConfigReference[];
  Isolation?: string;
  Init?: boolean | null;
  Sysctls?: Record<string, string>;
  CapabilityAdd?: string[];
  CapabilityDrop?: string[];
  Ulimits?: { Name: string; Soft: number; Hard: number }[];
  Privileges?: unknown;
  /**
   * Not in the Engine API's ContainerSpec: swarmkit's, set by the daemon from the X-Registry-Auth
   * header of service create/update (`--with-registry-auth`). It travels with the task to its node
   * for the image pull and is stripped from every API answer (api/convert: serviceOnWire, taskOnWire).
   */
  PullOptions?: { RegistryAuth?: string };
}

export type RestartCondition = 'none' | 'on-failure' | 'any';

export interface RestartPolicy {
  Condition?: RestartCondition;
  /** Nanoseconds. */
  Delay?: number;
  MaxAttempts?: number;
  /** Nanoseconds. */
  Window?: number;
}

export interface Placement {
  Constraints?: string[];
  Preferences?: { Spread?: { SpreadDescriptor: string } }[];
  MaxReplicas?: number;
  Platforms?: Platform[];
}

export interface NetworkAttachmentConfig {
  Target: string;
  Aliases?: string[];
  DriverOpts?: Record<string, string>;
}

export interface TaskSpec {
  PluginSpec?: unknown;
  ContainerSpec?: ContainerSpec;
  NetworkAttachmentSpec?: unknown;
  Resources?: { Limits?: ResourceObject & { Pids?: number }; Reservations?: ResourceObject };
  RestartPolicy?: RestartPolicy;
  Placement?: Placement;
  ForceUpdate?: number;
  Runtime?: string;
  Networks?: NetworkAttachmentConfig[];
  LogDriver?: { Name?: string; Options?: Record<string, string> };
}

export interface ContainerStatus {
  ContainerID?: string;
  PID?: number;
  ExitCode?: number;
}

export interface PortConfig {
  Name?: string;
  Protocol?: 'tcp' | 'udp' | 'sctp';
  TargetPort?: number;
  PublishedPort?: number;
  PublishMode?: 'ingress' | 'host';
}

export interface TaskStatus {
  Timestamp: string;
  State: TaskState;
  Message: string;
  Err?: string;
  ContainerStatus?: ContainerStatus;
  PortStatus?: { Ports?: PortConfig[] };
}

export interface Task extends Meta {
  Name?: string;
  Labels: Labels;
  Spec: TaskSpec;
  ServiceID: string;
  /** Replicated services: the slot, from 1. Global services: absent (the node ID identifies the task). */
  Slot?: number;
  NodeID?: string;
  Status: TaskStatus;
  DesiredState: TaskState;
  NetworksAttachments?: NetworkAttachment[];
  JobIteration?: { Index: number };
  /** Internal, never shown by the API. */
  internal: TaskInternal;
}

export interface TaskInternal {
  /** The service's spec version this task was made from; `_up-to-date` compares it. */
  specVersion: number;
  /** The service's name when the task was made (container names use it). */
  serviceName: string;
  /** Health of the task's container as the agent last reported it. */
  health?: 'starting' | 'healthy' | 'unhealthy';
  /** The service's published ports when the task was allocated (what the agent gives the task). */
  ports?: PortConfig[];
  /** Where the agent reported the task is reached for those ports (process runtime). */
  endpoints?: TaskEndpoint[];
  /**
   * Set by the restart supervisor on a replacement it creates with DesiredState READY: the task is
   * switched to RUNNING once `notBefore` (ms since the epoch) has passed and the task it replaces
   * (`waitFor`, if any) has stopped or `waitUntil` has passed. Removed when the task is started.
   */
  delayedStart?: { notBefore: number; waitFor?: string; waitUntil?: number };
}

/** `<service>.<slot>` for replicated tasks, `<service>.<nodeId>` for global ones. */
export function taskBaseName(task: Task): string {
  const svc = task.internal.serviceName;
  return task.Slot !== undefined && task.Slot !== 0 ? `${svc}.${task.Slot}` : `${svc}.${task.NodeID ?? ''}`;
}

/** The task's container name, Docker's swarm executor's: `<service>.<slot>.<taskId>` (global: `<service>.<nodeId>.<taskId>`). */
export function containerName(task: Task): string {
  return `${taskBaseName(task)}.${task.ID}`;
}

/** The secret and config IDs a task spec refers to. */
export function referencedIds(spec: TaskSpec | undefined): { secrets: string[]; configs: string[] } {
  const c = spec?.ContainerSpec;
  return {
    secrets: (c?.Secrets ?? []).map((r) => r.SecretID).filter((x): x is string => !!x),
    configs: (c?.Configs ?? []).map((r) => r.ConfigID).filter((x): x is string => !!x),
  };
}
