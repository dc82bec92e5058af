// The docker runtime: tasks are containers of a local Docker Engine.
import { EngineClient } from '../../../engine';
import type { Task } from '../../../types';
import * as path from 'node:path';
import type { Executor, ExecutorDescription, TaskController, TaskDependencies } from '../types';
import { secretsRoot } from '../task-files';
import { DockerController } from './controller';
import { ImageResolutions } from './image';
import type { TaskNetworking } from './networking';
import { LABEL_NODE_ID, LABEL_TASK_ID } from './spec';

export interface DockerExecutorOptions {
  /** The engine: a client, or its address (`unix:///var/run/docker.sock`, `tcp://host:port`). */
  engine: EngineClient | string;
  /** The node's hostname (from the daemon's config, not the engine's). */
  hostname: string;
  /**
   * This node's ID, when known. `listTaskIds` then returns only containers labelled for this node,
   * so several Shoal daemons can share one engine without taking each other's containers.
   */
  nodeId?: () => string | undefined;
  /** HostConfig.NetworkMode for task containers; default: the engine's default. */
  networkMode?: string;
  /** Poll interval of `onHealth`, ms (default 500). */
  healthPollMs?: number;
  /**
   * The daemon's data dir: names this daemon's directory of task files (task-files.ts): secrets,
   * configs, and the resolv.conf of a task on swarm networks that sets `ndots`.
   */
  dataDir?: string;
  /**
   * Pull images the engine lacks. Default: unless DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 is in the
   * daemon's environment, the switch Docker's swarm executor reads.
   */
  pull?: boolean;
  /** Told about a failed pull (never with credentials). */
  onPullFailure?: (ref: string, err: Error) => void;
}

/** Headers/body timeout of the executor's own engine client (ms). */
export const ENGINE_TIMEOUT_MS = 600_000;

export class DockerExecutor implements Executor {
  readonly name = 'docker' as const;
  readonly engine: EngineClient;
  private readonly ownsEngine: boolean;
  private readonly images = new ImageResolutions();
  private networking?: TaskNetworking;

  constructor(private readonly opts: DockerExecutorOptions) {
    this.ownsEngine = typeof opts.engine === 'string';
    // The engine is local: a slow answer is a busy engine, not a lost one (a dead engine closes the
    // socket at once). Swarm's executor waits on it without a deadline. With the client's 60 s default,
    // 50 creates at once on a machine at load 60 can fail a task, which then costs a replacement, a
    // restart delay and one more start (performance.md, issue 16), so it waits 10 minutes.
    this.engine = typeof opts.engine === 'string' ? new EngineClient({ host: opts.engine, timeoutMs: ENGINE_TIMEOUT_MS }) : opts.engine;
  }

  async describe(): Promise<ExecutorDescription> {
    const info = await this.engine.info();
    const engineLabels: Record<string, string> = {};
    for (const l of info.Labels ?? []) {
      const i = l.indexOf('=');
      if (i > 0) engineLabels[l.slice(0, i)] = l.slice(i + 1);
      else engineLabels[l] = '';
    }
    const plugins: { Type: string; Name: string }[] = [];
    for (const [type, names] of [
      ['Log', info.Plugins?.Log],
      ['Network', info.Plugins?.Network],
      ['Volume', info.Plugins?.Volume],
    ] as const) {
      for (const n of names ?? []) plugins.push({ Type: type, Name: n });
    }
    return {
      hostname: this.opts.hostname,
      os: info.OSType,
      architecture: info.Architecture,
      nanoCPUs: info.NCPU * 1_000_000_000,
      memoryBytes: info.MemTotal,
      engineVersion: info.ServerVersion,
      engineLabels,
      plugins,
    };
  }

  /** Puts tasks on their swarm networks from now on (the node's overlays; src/node wires it). */
  useNetworking(n: TaskNetworking | undefined): void {
    this.networking = n;
  }

  controller(task: Task, deps?: TaskDependencies): TaskController {
    const root = this.opts.dataDir ? secretsRoot(this.opts.dataDir) : undefined;
    return new DockerController(this.engine, task, {
      ...(root ? { filesDir: path.join(root, task.ID.replace(/[^A-Za-z0-9_.-]/g, '_')), deps, describe: () => this.describe() } : {}),
      networkMode: this.opts.networkMode,
      healthPollMs: this.opts.healthPollMs ?? 500,
      images: this.images,
      pull: this.opts.pull ?? process.env.DOCKER_SERVICE_PREFER_OFFLINE_IMAGE !== '1',
      ...(this.opts.onPullFailure ? { onPullFailure: this.opts.onPullFailure } : {}),
      networking: () => this.networking,
    });
  }

  async listTaskIds(): Promise<string[]> {
    const labels = [LABEL_TASK_ID];
    const node = this.opts.nodeId?.();
    if (node) labels.push(`${LABEL_NODE_ID}=${node}`);
    const list = await this.engine.containerList({ all: true, labels });
    const ids = new Set<string>();
    for (const c of list) {
      const id = c.Labels?.[LABEL_TASK_ID];
      if (id) ids.add(id);
    }
    return [...ids];
  }

  async close(): Promise<void> {
    if (this.ownsEngine) await this.engine.close();
  }
}
