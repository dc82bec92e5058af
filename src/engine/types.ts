// The parts of the Engine API's shapes Shoal reads or writes. Fields keep the engine's spelling;
// everything else the engine sends is kept (index signatures) so the API layer can pass it on.

export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  Os: string;
  Arch: string;
  KernelVersion?: string;
  [k: string]: unknown;
}

export interface EngineInfo {
  ID?: string;
  Name: string;
  NCPU: number;
  MemTotal: number;
  ServerVersion: string;
  OSType: string;
  Architecture: string;
  OperatingSystem?: string;
  Labels?: string[];
  Plugins?: { Volume?: string[]; Network?: string[]; Authorization?: string[] | null; Log?: string[] };
  [k: string]: unknown;
}

export interface ImageInspect {
  Id: string;
  RepoTags?: string[];
  RepoDigests?: string[];
  Os?: string;
  Architecture?: string;
  Config?: { Cmd?: string[] | null; Entrypoint?: string[] | null; Env?: string[] | null; [k: string]: unknown };
  [k: string]: unknown;
}

export interface HealthcheckConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
}

export interface MountConfig {
  Type: string;
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: Record<string, unknown>;
  VolumeOptions?: Record<string, unknown>;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface HostConfig {
  Mounts?: MountConfig[];
  ReadonlyRootfs?: boolean;
  Init?: boolean | null;
  NanoCpus?: number;
  Memory?: number;
  PidsLimit?: number;
  Sysctls?: Record<string, string>;
  CapAdd?: string[];
  CapDrop?: string[];
  Ulimits?: { Name: string; Soft: number; Hard: number }[];
  ExtraHosts?: string[];
  Dns?: string[];
  DnsSearch?: string[];
  DnsOptions?: string[];
  GroupAdd?: string[];
  Isolation?: string;
  NetworkMode?: string;
  LogConfig?: { Type: string; Config?: Record<string, string> };
  RestartPolicy?: { Name: string; MaximumRetryCount?: number };
  /** "80/tcp" → the host ports it is published on (`HostPort: ""`: the engine picks one). */
  PortBindings?: Record<string, PortBinding[]>;
  [k: string]: unknown;
}

/** One host address and port a container port is published on. */
export interface PortBinding {
  HostIp?: string;
  HostPort?: string;
}

export interface ContainerCreateConfig {
  Image: string;
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Hostname?: string;
  Labels?: Record<string, string>;
  Tty?: boolean;
  OpenStdin?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  StopSignal?: string;
  StopTimeout?: number;
  Healthcheck?: HealthcheckConfig;
  /** "80/tcp" → {}: the ports a container exposes (each published one must be). */
  ExposedPorts?: Record<string, Record<string, never>>;
  HostConfig?: HostConfig;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointSettings> };
  [k: string]: unknown;
}

/** A container's settings on one network (`IPAMConfig.IPv4Address`: a fixed address). */
export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string };
  Aliases?: string[];
  [k: string]: unknown;
}

/** `POST /networks/create`, as far as Shoal uses it. */
export interface EngineNetworkCreate {
  Name: string;
  Driver?: string;
  CheckDuplicate?: boolean;
  Internal?: boolean;
  Attachable?: boolean;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] };
  Options?: Record<string, string>;
  Labels?: Record<string, string>;
}

/** An entry of `GET /networks`. */
export interface EngineNetwork {
  Id: string;
  Name: string;
  Driver: string;
  Internal?: boolean;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null };
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  Containers?: Record<string, { Name?: string; IPv4Address?: string }> | null;
  [k: string]: unknown;
}

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Paused?: boolean;
  Restarting?: boolean;
  OOMKilled?: boolean;
  Dead?: boolean;
  Pid: number;
  ExitCode: number;
  Error?: string;
  StartedAt?: string;
  FinishedAt?: string;
  Health?: { Status: 'none' | 'starting' | 'healthy' | 'unhealthy'; FailingStreak?: number; Log?: unknown[] };
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  Image: string;
  Created?: string;
  State: ContainerState;
  Config: ContainerCreateConfig;
  HostConfig?: HostConfig;
  /** `Ports`: where the running container's ports are published now ("80/tcp" → bindings; null: exposed only). */
  NetworkSettings?: { Ports?: Record<string, PortBinding[] | null> | null; [k: string]: unknown };
  [k: string]: unknown;
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID?: string;
  Labels: Record<string, string>;
  State: string;
  Status: string;
  Created?: number;
  [k: string]: unknown;
}

export interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope?: string;
  time: number;
  timeNano: number;
  /** Older fields, still sent by 20.10. */
  status?: string;
  id?: string;
  from?: string;
}

/** Filters as the Engine API takes them: `{label: ['a=b'], type: ['container']}`. */
export type EngineFilters = Record<string, string[]>;

export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Seconds since the epoch (fractional allowed). */
  since?: number;
  until?: number;
  timestamps?: boolean;
  tail?: number | 'all';
  /** The container was created with a TTY: the stream is raw, not multiplexed. Looked up when absent. */
  tty?: boolean;
}

/** One demultiplexed piece of a container's output. */
export interface LogFrame {
  stream: 'stdin' | 'stdout' | 'stderr';
  data: Buffer;
}
