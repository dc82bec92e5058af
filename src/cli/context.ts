// What every command gets: the API client and the output streams.
import type { ApiClient } from './client';
import type { ApiNode } from './format/nodes';
import type { ApiService } from './format/services';
import type { ApiTask } from './format/tasks';
import { filters } from './client';

export interface Out {
  write(s: string): void;
}

export interface Ctx {
  api: ApiClient;
  out: Out;
  err: Out;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** The terminal's width when `out` is a terminal (progress is then redrawn in place, as docker does). */
  ttyWidth?: number;
}

export interface Info {
  ID?: string;
  Name?: string;
  ServerVersion?: string;
  Containers?: number;
  ContainersRunning?: number;
  ContainersPaused?: number;
  ContainersStopped?: number;
  Images?: number;
  OperatingSystem?: string;
  OSType?: string;
  Architecture?: string;
  NCPU?: number;
  MemTotal?: number;
  KernelVersion?: string;
  DockerRootDir?: string;
  Swarm?: {
    NodeID?: string;
    NodeAddr?: string;
    LocalNodeState?: string;
    ControlAvailable?: boolean;
    Error?: string;
    RemoteManagers?: { NodeID: string; Addr: string }[] | null;
    Nodes?: number;
    Managers?: number;
    Cluster?: { ID: string; TLSInfo?: { TrustRoot?: string; CertIssuerSubject?: string; CertIssuerPublicKey?: string } };
  };
}

export const getInfo = (ctx: Ctx): Promise<Info> => ctx.api.get<Info>('/info');

export const getService = (ctx: Ctx, ref: string): Promise<ApiService> => ctx.api.get<ApiService>(`/services/${encodeURIComponent(ref)}`, { insertDefaults: false });

/** A node by ID, name or `self` (resolved here through /info, as the docker CLI does). */
export async function getNode(ctx: Ctx, ref: string): Promise<ApiNode> {
  const id = ref === 'self' ? (await getInfo(ctx)).Swarm?.NodeID || ref : ref;
  return ctx.api.get<ApiNode>(`/nodes/${encodeURIComponent(id)}`);
}

export const listNodes = (ctx: Ctx): Promise<ApiNode[]> => ctx.api.get<ApiNode[]>('/nodes');

export const listTasks = (ctx: Ctx, f: Record<string, string[]>): Promise<ApiTask[]> => ctx.api.get<ApiTask[]>('/tasks', { filters: filters(f) });

export async function nodeNameMap(ctx: Ctx): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  try {
    for (const n of await listNodes(ctx)) m.set(n.ID, n.Spec.Name || n.Description?.Hostname || n.ID);
  } catch {
    /* a worker cannot list nodes; IDs will do */
  }
  return m;
}

/** Node names as the docker CLI's ID resolver gives them: Spec.Name, else the hostname, else the ID. */
/** The calling node's ID (`self`), from /info. */
export async function selfNodeId(ctx: Ctx): Promise<string> {
  const info = await getInfo(ctx);
  return info.Swarm?.NodeID ?? '';
}
