import { isoTime } from '../../lib/time';

// Shapes of GET /version, GET /info and the `Swarm` ping header, from the daemon's facts.
// DaemonFacts is defined here, in the pure zone; ../backend.ts re-exports it.

/** Facts about the daemon itself for /version and /info. */
export interface DaemonFacts {
  version: string;
  apiVersion: string;
  minApiVersion: string;
  hostname: string;
  os: string;
  arch: string;
  kernelVersion: string;
  ncpu: number;
  memTotal: number;
  dataDir: string;
  runtime: 'docker' | 'process';
  /** Engine socket the non-swarm paths are passed to, when configured. */
  engine?: string;
}

export interface SwarmInfoLike {
  NodeID: string;
  NodeAddr: string;
  LocalNodeState: string;
  ControlAvailable: boolean;
  Error: string;
  RemoteManagers: { NodeID: string; Addr: string }[] | null;
  Nodes?: number;
  Managers?: number;
  Cluster?: object;
}

/** Build facts that are not the daemon's business to know (the runtime's own version etc.). */
export interface BuildFacts {
  gitCommit: string;
  runtimeVersion: string;
  buildTime: string;
}

export const INACTIVE_SWARM: SwarmInfoLike = {
  NodeID: '',
  NodeAddr: '',
  LocalNodeState: 'inactive',
  ControlAvailable: false,
  Error: '',
  RemoteManagers: null,
};

/** `Swarm:` header of /_ping: inactive | pending | error | locked | active/worker | active/manager. */
export function pingSwarmHeader(s: Pick<SwarmInfoLike, 'LocalNodeState' | 'ControlAvailable'>): string {
  if (s.LocalNodeState === 'active') return s.ControlAvailable ? 'active/manager' : 'active/worker';
  return s.LocalNodeState || 'inactive';
}

const goArch = (arch: string): string => (arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch);
const unameArch = (arch: string): string => (arch === 'x64' ? 'x86_64' : arch === 'arm64' ? 'aarch64' : arch);

export function versionBody(f: DaemonFacts, b: BuildFacts): Record<string, unknown> {
  const arch = goArch(f.arch);
  return {
    Platform: { Name: 'Shoal' },
    Components: [
      {
        Name: 'Engine',
        Version: f.version,
        Details: {
          ApiVersion: f.apiVersion,
          Arch: arch,
          BuildTime: b.buildTime,
          Experimental: 'false',
          GitCommit: b.gitCommit,
          GoVersion: b.runtimeVersion,
          KernelVersion: f.kernelVersion,
          MinAPIVersion: f.minApiVersion,
          Os: f.os,
        },
      },
    ],
    Version: f.version,
    ApiVersion: f.apiVersion,
    MinAPIVersion: f.minApiVersion,
    GitCommit: b.gitCommit,
    GoVersion: b.runtimeVersion,
    Os: f.os,
    Arch: arch,
    KernelVersion: f.kernelVersion,
    BuildTime: b.buildTime,
  };
}

/** Engine-owned fields of /info copied from the local engine when one is configured. */
export const ENGINE_INFO_FIELDS = [
  'Containers',
  'ContainersRunning',
  'ContainersPaused',
  'ContainersStopped',
  'Images',
  'Driver',
  'DriverStatus',
  'Plugins',
  'MemoryLimit',
  'SwapLimit',
  'CpuCfsPeriod',
  'CpuCfsQuota',
  'CPUShares',
  'CPUSet',
  'PidsLimit',
  'OomKillDisable',
  'IPv4Forwarding',
  'LoggingDriver',
  'CgroupDriver',
  'CgroupVersion',
  'OperatingSystem',
  'OSVersion',
  'IndexServerAddress',
  'RegistryConfig',
  'HttpProxy',
  'HttpsProxy',
  'NoProxy',
  'Runtimes',
  'DefaultRuntime',
  'Isolation',
  'InitBinary',
  'ContainerdCommit',
  'RuncCommit',
  'InitCommit',
  'SecurityOptions',
  'CDISpecDirs',
  'Containerd',
] as const;

/** GET /info. `engineInfo` (the engine's own /info) supplies the engine-owned fields when present. */
export function infoBody(args: {
  facts: DaemonFacts;
  swarm: SwarmInfoLike;
  daemonId: string;
  now: number;
  engineInfo?: Record<string, unknown>;
}): Record<string, unknown> {
  const { facts: f, swarm, daemonId, now, engineInfo } = args;
  const processRuntime = f.runtime === 'process';
  const body: Record<string, unknown> = {
    ID: daemonId,
    Containers: 0,
    ContainersRunning: 0,
    ContainersPaused: 0,
    ContainersStopped: 0,
    Images: 0,
    Driver: processRuntime ? 'none' : 'overlay2',
    DriverStatus: [],
    DockerRootDir: f.dataDir,
    Plugins: {
      Volume: ['local'],
      Network: ['bridge', 'host', 'null', 'overlay'],
      Authorization: null,
      Log: ['json-file', 'local'],
    },
    MemoryLimit: true,
    SwapLimit: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    OomKillDisable: false,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 0,
    NGoroutines: 0,
    SystemTime: isoTime(now),
    LoggingDriver: 'json-file',
    CgroupDriver: processRuntime ? 'none' : 'systemd',
    CgroupVersion: '2',
    NEventsListener: 0,
    KernelVersion: f.kernelVersion,
    OperatingSystem: f.os === 'linux' ? 'Linux' : f.os,
    OSVersion: '',
    OSType: f.os,
    Architecture: unameArch(f.arch),
    NCPU: f.ncpu,
    MemTotal: f.memTotal,
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8', '::1/128'], Mirrors: [] },
    GenericResources: null,
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: f.hostname,
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: f.version,
    Runtimes: processRuntime ? { process: { path: 'shoal-process-runtime' } } : { runc: { path: 'runc' } },
    DefaultRuntime: processRuntime ? 'process' : 'runc',
    Swarm: swarm,
    LiveRestoreEnabled: true,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: { ID: '' },
    RuncCommit: { ID: '' },
    InitCommit: { ID: '' },
    SecurityOptions: [],
    Warnings: null,
  };
  if (engineInfo) {
    for (const k of ENGINE_INFO_FIELDS) if (k in engineInfo) body[k] = engineInfo[k];
  }
  return body;
}
