import type { Labels, Meta } from './common';
import type { NetworkAttachmentConfig, PortConfig, TaskSpec } from './task';

export type FailureAction = 'pause' | 'continue' | 'rollback';
export type UpdateOrder = 'stop-first' | 'start-first';

export interface UpdateConfig {
  Parallelism?: number;
  /** Nanoseconds. */
  Delay?: number;
  FailureAction?: FailureAction;
  /** Nanoseconds. */
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: UpdateOrder;
}

export interface ServiceMode {
  Replicated?: { Replicas?: number };
  Global?: Record<string, never>;
  ReplicatedJob?: { MaxConcurrent?: number; TotalCompletions?: number };
  GlobalJob?: Record<string, never>;
}

export interface EndpointSpec {
  Mode?: 'vip' | 'dnsrr';
  Ports?: PortConfig[];
}

export interface ServiceSpec {
  Name: string;
  Labels?: Labels;
  TaskTemplate: TaskSpec;
  Mode: ServiceMode;
  UpdateConfig?: UpdateConfig;
  RollbackConfig?: UpdateConfig;
  Networks?: NetworkAttachmentConfig[];
  EndpointSpec?: EndpointSpec;
}

export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export interface UpdateStatus {
  State: UpdateState;
  StartedAt?: string;
  CompletedAt?: string;
  Message?: string;
}

export interface Endpoint {
  Spec: EndpointSpec;
  Ports?: PortConfig[];
  VirtualIPs?: { NetworkID: string; Addr: string }[];
}

/** A job's run: the iteration its tasks belong to, and when that iteration started (Engine API `JobStatus`). */
export interface JobStatus {
  JobIteration: { Index: number };
  LastExecution?: string;
}

export interface Service extends Meta {
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint: Endpoint;
  UpdateStatus?: UpdateStatus;
  /** Set on job services only (replicated-job, global-job). */
  JobStatus?: JobStatus;
  /** Internal, never shown by the API. */
  internal: ServiceInternal;
}

export interface ServiceInternal {
  /** Bumped on every spec change; tasks record the version they were made from. */
  specVersion: number;
  /** The spec version PreviousSpec had, so a rollback can restore it. */
  previousSpecVersion?: number;
}

export const isGlobal = (s: { Spec: ServiceSpec }): boolean => !!s.Spec.Mode.Global;
export const isReplicatedJob = (s: { Spec: ServiceSpec }): boolean => !!s.Spec.Mode.ReplicatedJob;
export const isGlobalJob = (s: { Spec: ServiceSpec }): boolean => !!s.Spec.Mode.GlobalJob;
/** Jobs run their tasks to completion (desired state COMPLETE) instead of keeping them running. */
export const isJob = (s: { Spec: ServiceSpec }): boolean => isReplicatedJob(s) || isGlobalJob(s);
/** One task per eligible node: global services and global jobs. */
export const isPerNode = (s: { Spec: ServiceSpec }): boolean => isGlobal(s) || isGlobalJob(s);
/** The mode's name as `docker service ls --filter mode=` spells it. */
export const modeName = (m: ServiceMode): 'replicated' | 'global' | 'replicated-job' | 'global-job' =>
  m.Global ? 'global' : m.ReplicatedJob ? 'replicated-job' : m.GlobalJob ? 'global-job' : 'replicated';
/** The job iteration a job service is on (0 before its first run is recorded). */
export const jobIterationOf = (s: { JobStatus?: JobStatus }): number => s.JobStatus?.JobIteration.Index ?? 0;
export const isReplicated = (s: { Spec: ServiceSpec }): boolean => !!s.Spec.Mode.Replicated;
export const replicasOf = (s: { Spec: ServiceSpec }): number => s.Spec.Mode.Replicated?.Replicas ?? 1;
