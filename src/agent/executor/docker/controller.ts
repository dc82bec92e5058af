// One task ↔ one engine container, named and labelled as Docker's swarm executor does.
import fs from 'node:fs';
import path from 'node:path';
import { EngineClient, timedLines, type ContainerInspect } from '../../../engine';
import { isKind, notFound } from '../../../lib/errors';
import { sleepUnlessAborted } from '../../../sys/sleep';
import type { Task } from '../../../types';
import { relativeTarget, removeTaskFiles, taskFiles, writeTaskFiles } from '../task-files';
import type { TaskDependencies } from '../types';
import {
  nonZeroExit,
  type ExitResult,
  type LogLine,
  type LogOptions,
  type RuntimeStatus,
  type TaskController,
} from '../types';
import { HealthPoll, healthOf, type Health } from './health-poll';
import { resolveTaskImage, type ImageResolutions } from './image';
import { containerEndpoints, type TaskNetworking, type TaskNetworkNeeds } from './networking';
import { containerConfig, containerName, endpointSettings, hostModePorts, LABEL_TASK_ID, needsOwnResolvConf, publishedHostEndpoints, taskResolvConf } from './spec';

export interface DockerControllerOptions {
  networkMode?: string;
  /** How often `onHealth` listeners poll the engine, ms. */
  healthPollMs: number;
  /** Shared by the controllers of one executor: a burst of tasks on one image resolves it once. */
  images?: ImageResolutions;
  /** The node's network layer, for tasks on swarm networks (overlays on this node). */
  /**
   * The node's network layer as it is now: a controller made before the daemon attached it (a restart
   * adopting running tasks) still reaches it.
   */
  networking?: () => TaskNetworking | undefined;
  /** The secrets and configs this node holds (memory only), for the task's files. */
  deps?: TaskDependencies;
  /** Where the task's secret and config files are written (memory-backed; task-files.ts). */
  filesDir?: string;
  /** This node for templates (hostname, platform). */
  describe?: () => Promise<{ hostname: string; os: string; architecture: string }>;
  /**
   * Pull an image the engine lacks (default). False is Docker's DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1:
   * never pull, use what the engine has.
   */
  pull?: boolean;
  /** Told about a failed pull (Docker logs it and goes on to the create, which then fails). */
  onPullFailure?: (ref: string, err: Error) => void;
}

export class DockerController implements TaskController {
  private readonly name: string;
  private readonly health: HealthPoll;
  /**
   * The container this controller created itself and has not started yet (ID from the create
   * answer). It saves the engine round trips that would only confirm what the create just did:
   * the first inspect after it, the look-up before start and the one before wait.
   */
  private created?: string;
  /** Set when `created` may answer the next inspect (once). */
  private createdUninspected = false;
  /** The container this controller started itself. */
  private started?: string;
  /** The ID of this task's container as this controller last created or found it (kept across forgetOwn). */
  private known?: string;
  /** Set once `inspect` found the container running with the network layer attached. */
  private seen = false;
  /**
   * From this controller's prepare until its start has answered: it is making the container run, so
   * nothing runs in it yet and the health poll does not look (health-poll.ts). A look then would only
   * wait in the engine behind the start (the engine holds a container while starting it): B1 with 50
   * replicas queued 50 such look-ups behind 50 slow starts.
   */
  private launching = false;

  constructor(
    private readonly engine: EngineClient,
    private readonly task: Task,
    private readonly opts: DockerControllerOptions,
  ) {
    this.name = containerName(task);
    this.health = new HealthPoll({ look: () => this.find(), launching: () => this.launching, periodMs: opts.healthPollMs });
  }

  private finding: Promise<ContainerInspect | undefined> | null = null;

  /**
   * The container for this task, or undefined. Looked up by name; the task-ID label must match.
   * Concurrent look-ups (the task manager's and the health poll's, right after a start) share one
   * engine round trip.
   */
  private find(): Promise<ContainerInspect | undefined> {
    if (this.finding) return this.finding;
    const p = this.lookup().finally(() => {
      if (this.finding === p) this.finding = null;
    });
    this.finding = p;
    return p;
  }

  private async lookup(): Promise<ContainerInspect | undefined> {
    try {
      const c = await this.engine.containerInspect(this.name);
      if (c.Config.Labels?.[LABEL_TASK_ID] !== this.task.ID) return undefined;
      this.known = c.Id;
      return c;
    } catch (err) {
      if (isKind(err, 'NotFound')) return undefined;
      throw err;
    }
  }

  /** Stops trusting what this controller did itself: from now on every step looks the container up. */
  private forgetOwn(): void {
    this.launching = false;
    this.created = undefined;
    this.createdUninspected = false;
    this.started = undefined;
  }

  private async mustFind(): Promise<ContainerInspect> {
    const c = await this.find();
    if (!c) throw notFound(`No such container: ${this.name}`);
    return c;
  }

  /** The local image to create from (image.ts), pulled first when the engine lacks it. */
  async resolveImage(): Promise<string> {
    return resolveTaskImage(this.engine, this.task, this.opts);
  }

  async prepare(): Promise<void> {
    this.launching = true;
    try {
      await this.createContainer();
    } catch (err) {
      this.launching = false;
      throw err;
    }
  }

  private async createContainer(): Promise<void> {
    // Create straight away: a container of this task that exists already (an earlier run of this
    // daemon) shows up as a name conflict, and is then looked up.
    let image: string;
    try {
      image = await this.resolveImage();
    } catch (err) {
      // the image went away, but the container was created before: nothing to prepare
      if (await this.find().catch(() => undefined)) return;
      throw err;
    }
    const attachments = this.task.NetworksAttachments ?? [];
    const net = this.opts.networking?.();
    const needs = this.networkNeeds();
    const prepared = net && (attachments.length || needs.publishesHostPorts) ? await net.prepare(needs) : undefined;
    const endpoints = prepared ? containerEndpoints(attachments, prepared) : [];
    let files: { Source: string; Target: string }[];
    try {
      files = await this.writeFiles();
    } catch (err) {
      // after a daemon restart the secrets come with the new session: a container made before has its files
      if (await this.find().catch(() => undefined)) return;
      throw err;
    }
    const ownResolvConf = prepared?.nameserver && needsOwnResolvConf(this.task.Spec.ContainerSpec?.DNSConfig);
    const resolvConfPath = ownResolvConf ? await this.writeResolvConf(prepared.nameserver!) : undefined;
    const cfg = containerConfig(this.task, {
      image,
      networkMode: this.opts.networkMode,
      endpoints,
      files,
      ...(prepared?.nameserver ? { nameserver: prepared.nameserver } : {}),
      ...(resolvConfPath ? { resolvConfPath } : {}),
    });
    try {
      const r = await this.engine.containerCreate(cfg, this.name);
      for (const e of endpoints.slice(1)) await this.engine.networkConnect(e.network, r.Id, endpointSettings(e));
      this.created = r.Id;
      this.known = r.Id;
      this.createdUninspected = true;
    } catch (err) {
      // created concurrently (or by an earlier run of this daemon): fine if it is ours
      if (isKind(err, 'Conflict') && (await this.find())) return;
      throw err;
    }
  }

  /**
   * The task's secrets and configs, as Docker places them: each file written into the task's private
   * directory on /dev/shm and bind-mounted read-only, secrets at /run/secrets/<target> (an absolute
   * target as it is), configs at their target (a relative one below /).
   */
  private async writeFiles(): Promise<{ Source: string; Target: string }[]> {
    const dir = this.opts.filesDir;
    const describe = this.opts.describe;
    if (!dir || !describe) return [];
    const c = this.task.Spec.ContainerSpec;
    if (!c?.Secrets?.length && !c?.Configs?.length) return [];
    const files = taskFiles(this.task, this.opts.deps, await describe());
    if (!files.length) return [];
    const paths = writeTaskFiles(dir, files, (f, i) => `${f.kind}-${i}`);
    return files.map((f, i) => ({
      Source: paths[i]!,
      Target: f.target.startsWith('/') ? f.target : `${f.kind === 'secret' ? '/run/secrets' : ''}/${relativeTarget(f.target)}`,
    }));
  }

  private dropFiles(): void {
    if (this.opts.filesDir) removeTaskFiles(this.opts.filesDir);
  }

  async start(): Promise<void> {
    try {
      await this.startContainer();
    } finally {
      this.launching = false;
    }
  }

  private async startContainer(): Promise<void> {
    const fresh = this.created;
    if (fresh) {
      // created by this controller and not started: start it without looking it up first
      this.created = undefined;
      this.createdUninspected = false;
      try {
        await this.engine.containerStart(fresh);
      } catch (err) {
        if (isKind(err, 'NotFound')) throw notFound(`No such container: ${this.name}`);
        throw err;
      }
      this.started = fresh;
      this.startedHere();
      this.opts.networking?.()?.started(fresh);
      return;
    }
    const c = await this.mustFind();
    // like swarm's executor: only a freshly created container is started; one that ran already
    // (running or exited) is left as it is and `wait` reports its end.
    if (c.State.Status !== 'created') return;
    await this.engine.containerStart(c.Id);
    this.startedHere();
    this.opts.networking?.()?.started(c.Id);
  }

  /** Its start answered: `launching` ends before the health poll is woken, as the poll reads it first. */
  private startedHere(): void {
    this.launching = false;
    this.health.started();
  }

  async wait(signal?: AbortSignal): Promise<ExitResult> {
    const mine = this.started;
    if (mine) {
      // started by this controller: wait on it directly (an exit that happened already is answered at once)
      this.started = undefined;
      try {
        const r = await this.engine.containerWait(mine, 'not-running', signal);
        this.dropFiles();
        return exitResult(r.StatusCode);
      } catch (err) {
        if (signal?.aborted) throw err;
        if (isKind(err, 'NotFound')) throw notFound(`No such container: ${this.name}`);
        if (!isKind(err, 'Unavailable') && !isKind(err, 'Internal')) throw err;
        // the engine restarted or the connection dropped: look again below
        await sleepUnlessAborted(500, signal);
        if (signal?.aborted) throw abortError(signal);
      }
    }
    for (;;) {
      const c = await this.mustFind();
      if (c.State.Status === 'created') {
        // not started yet: the engine would answer "not running" at once; wait for the start
        await sleepUnlessAborted(200, signal);
        if (signal?.aborted) throw abortError(signal);
        continue;
      }
      try {
        const r = await this.engine.containerWait(c.Id, 'not-running', signal);
        this.dropFiles();
        return exitResult(r.StatusCode);
      } catch (err) {
        if (signal?.aborted) throw err;
        // the engine restarted or the connection dropped: look again
        if (isKind(err, 'Unavailable') || isKind(err, 'Internal')) {
          await sleepUnlessAborted(500, signal);
          continue;
        }
        throw err;
      }
    }
  }

  async shutdown(graceMs: number): Promise<void> {
    const id = await this.containerId();
    this.forgetOwn();
    if (!id) return;
    const seconds = Math.max(0, Math.ceil(graceMs / 1000));
    try {
      if (seconds > 0) {
        await this.engine.containerStop(id, seconds);
        return;
      }
      // No grace: Docker's stop would send the stop signal, wait 0 s and kill. The kill alone, then its
      // exit (the task is SHUTDOWN once its container stopped, as after a stop).
      await this.engine.containerKill(id, 'SIGKILL').catch((err: unknown) => {
        // "is not running": it ended by itself meanwhile
        if (!isKind(err, 'Conflict')) throw err;
      });
      await this.engine.containerWait(id, 'not-running');
    } catch (err) {
      // gone: nothing left to stop
      if (isKind(err, 'NotFound')) return;
      throw err;
    }
  }

  /**
   * The ID of this task's container: the one this controller created or last found (a container is
   * made once per task, so it stays valid until removed: the engine then answers NotFound), else looked up.
   */
  private async containerId(): Promise<string | undefined> {
    return this.known ?? (await this.find())?.Id;
  }

  async terminate(): Promise<void> {
    this.forgetOwn();
    const c = await this.find();
    if (!c || !c.State.Running) return;
    try {
      await this.engine.containerKill(c.Id, 'SIGKILL');
    } catch (err) {
      // "is not running": it ended meanwhile
      if (isKind(err, 'Conflict') || isKind(err, 'NotFound')) return;
      throw err;
    }
  }

  async remove(): Promise<void> {
    this.health.stop();
    const id = await this.containerId();
    this.forgetOwn();
    this.dropFiles();
    if (!id) return this.released();
    try {
      await this.engine.containerRemove(id, { force: true, volumes: true });
    } catch (err) {
      if (isKind(err, 'NotFound')) return this.released();
      // "removal already in progress"
      if (isKind(err, 'Conflict')) return;
      throw err;
    }
    this.released();
  }

  private networkNeeds(): TaskNetworkNeeds {
    const dnsServers = this.task.Spec.ContainerSpec?.DNSConfig?.Nameservers;
    return { attachments: this.task.NetworksAttachments ?? [], publishesHostPorts: hostModePorts(this.task).length > 0, ...(dnsServers?.length ? { dnsServers } : {}) };
  }

  private released(): void {
    const attachments = this.task.NetworksAttachments ?? [];
    if (attachments.length) this.opts.networking?.()?.released(attachments);
  }

  /**
   * The task's resolv.conf (the node's DNS, its search and options), for its container to mount: in
   * the task's file directory, after its secrets and configs (written first, they empty it), removed with them.
   */
  private async writeResolvConf(nameserver: string): Promise<string | undefined> {
    const dir = this.opts.filesDir;
    if (!dir) return undefined;
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, 'resolv.conf');
    await fs.promises.writeFile(file, taskResolvConf(nameserver, this.task.Spec.ContainerSpec?.DNSConfig));
    return file;
  }

  async inspect(): Promise<RuntimeStatus | undefined> {
    if (this.created && this.createdUninspected) {
      // just created by this controller: nothing can have run in it yet
      this.createdUninspected = false;
      return { containerId: this.created, running: false };
    }
    const c = await this.find();
    if (!c) return undefined;
    const net = this.opts.networking?.();
    if (!this.seen && net && c.State.Running) {
      // the first look at a running container with the network layer there (one a restarted daemon
      // adopts too): its addresses' DNS upstreams again
      this.seen = true;
      if (this.task.NetworksAttachments?.length) net.adopted(this.networkNeeds());
    }
    const out = statusOf(c);
    // host-mode ports: where the engine bound them (`service ps` PORTS), known once it runs
    const endpoints = out.running ? publishedHostEndpoints(this.task, c) : [];
    return endpoints.length ? { ...out, endpoints } : out;
  }

  async *logs(opts: LogOptions, signal?: AbortSignal): AsyncIterable<LogLine> {
    const c = await this.mustFind();
    const frames = await this.engine.containerLogs(
      c.Id,
      {
        follow: opts.follow,
        timestamps: true,
        tail: opts.tail,
        since: opts.since && opts.since > 0 ? opts.since : undefined,
        tty: !!c.Config.Tty,
      },
      signal,
    );
    for await (const l of timedLines(frames)) yield { stream: l.stream, time: l.time, data: l.data };
  }

  onHealth(listener: (h: Health) => void): () => void {
    return this.health.subscribe(listener);
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
}

export function exitResult(code: number): ExitResult {
  return code === 0 ? { exitCode: 0 } : { exitCode: code, error: nonZeroExit(code) };
}

export function statusOf(c: ContainerInspect): RuntimeStatus {
  const s = c.State;
  const out: RuntimeStatus = { containerId: c.Id, running: !!s.Running };
  if (s.Pid) out.pid = s.Pid;
  if (!s.Running && s.Status !== 'created') out.exitCode = s.ExitCode;
  const h = healthOf(c);
  if (h) out.health = h;
  return out;
}
