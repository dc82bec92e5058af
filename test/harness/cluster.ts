// A multi-node Shoal cluster on one machine for integration tests and benches: N daemons (process
// runtime by default) on loopback addresses 127.0.0.(10+i), the first one `swarm init`, the rest
// `swarm join` as workers, all through the real docker CLI. Nodes can be killed (-9), restarted,
// and partitioned with the daemon's TEST FAULT INJECTOR (test/harness/fault-injector.ts):
// a partitioned node's RPC traffic to the listed addresses is silently dropped. Every wait is bounded.
import fs from 'node:fs';
import path from 'node:path';
import { TestDaemon, waitFor, type DaemonOptions } from './daemon';

export interface ClusterOptions {
  /** Workers to join after init (default 2). */
  workers?: number;
  runtime?: 'process' | 'docker';
  engine?: string;
  /** `docker swarm update --dispatcher-heartbeat` right after init (e.g. "1s"); default: leave Docker's 5s. */
  heartbeat?: string;
  /** The managers' swarm port (default: a random one in 20000–29999, so parallel runs and a real dockerd never clash). */
  port?: number;
  /** Hostname prefix (default "node"): node i is "<prefix>-<i>". */
  hostPrefix?: string;
  /** Extra `shoal daemon` flags for every node (e.g. ['--raft-tick-ms', '50']). */
  daemonArgs?: string[];
  /** Extra `shoal daemon` flags that name the node's own address (e.g. `--dns-listen-addr <ip>:<port>`). */
  nodeArgs?: (ip: string) => string[];
  /** Flags for node itself in every daemon (e.g. `--cpu-prof --cpu-prof-dir DIR`). */
  runtimeArgs?: string[];
  /** Extra environment for every daemon (e.g. glibc's malloc tunables). */
  daemonEnv?: Record<string, string>;
  /**
   * Daemons run as users run them (`node bin/shoal.js daemon`, no source maps, no test fault injector):
   * for benches that measure CPU and memory. Such a cluster cannot be partitioned.
   */
  asShipped?: boolean;
}

export interface NodeJson {
  ID: string;
  Spec: { Role: string; Availability: string; Labels?: Record<string, string> };
  Description: { Hostname: string; TLSInfo?: { TrustRoot?: string; CertIssuerSubject?: string; CertIssuerPublicKey?: string } };
  Status: { State: string; Addr: string; Message?: string };
}

export interface TaskJson {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: string;
  Status: { State: string; Err?: string; ContainerStatus?: { PID?: number } };
}

export class ClusterNode {
  daemon: TestDaemon;
  nodeId = '';
  readonly faultFile: string;
  killed = false;

  constructor(
    readonly index: number,
    readonly ip: string,
    readonly hostname: string,
    private readonly opts: DaemonOptions,
  ) {
    this.daemon = new TestDaemon({ ...opts, hostname });
    this.faultFile = path.join(this.daemon.dataDir, 'test-fault.json');
    fs.writeFileSync(this.faultFile, JSON.stringify({ drop: [] }));
    if (!opts.viaBin) this.daemon.opts.faultFile = this.faultFile;
    // Each node's routing mesh listens on its own loopback address, as each host would on its own.
    this.daemon.opts.extraArgs = ['--swarm-default-advertise-addr', ip, '--mesh-listen-addr', ip, ...(opts.extraArgs ?? [])];
  }

  docker(args: string[], o?: { timeoutMs?: number }) {
    return this.daemon.docker(args, o);
  }
  dockerOk(args: string[], o?: { timeoutMs?: number }) {
    return this.daemon.dockerOk(args, o);
  }
}

export class TestCluster {
  readonly nodes: ClusterNode[] = [];
  readonly port: number;
  private readonly opts: ClusterOptions;

  constructor(opts: ClusterOptions = {}) {
    this.opts = opts;
    this.port = opts.port ?? 20000 + Math.floor(Math.random() * 10000);
  }

  get manager(): ClusterNode {
    return this.nodes[0]!;
  }
  get managerAddr(): string {
    return `${this.manager.ip}:${this.port}`;
  }
  get workers(): ClusterNode[] {
    return this.nodes.slice(1);
  }

  /** Starts the manager (init) and the workers (join). */
  async start(): Promise<void> {
    const m = await this.addDaemon();
    m.dockerOk(['swarm', 'init', '--advertise-addr', m.ip, '--listen-addr', `${m.ip}:${this.port}`]);
    m.nodeId = m.dockerOk(['info', '--format', '{{.Swarm.NodeID}}']).trim();
    if (this.opts.heartbeat) m.dockerOk(['swarm', 'update', '--dispatcher-heartbeat', this.opts.heartbeat]);
    for (let i = 0; i < (this.opts.workers ?? 2); i++) await this.addWorker();
  }

  /** Starts one more daemon (not yet in the swarm). */
  async addDaemon(): Promise<ClusterNode> {
    const i = this.nodes.length;
    const ip = `127.0.0.${10 + i}`;
    const extraArgs = [...(this.opts.daemonArgs ?? []), ...(this.opts.nodeArgs?.(ip) ?? [])];
    const n = new ClusterNode(i, ip, `${this.opts.hostPrefix ?? 'node'}-${i}`, {
      runtime: this.opts.runtime ?? 'process',
      engine: this.opts.engine,
      extraArgs,
      nodeArgs: this.opts.runtimeArgs,
      ...(this.opts.daemonEnv ? { env: this.opts.daemonEnv } : {}),
      ...(this.opts.asShipped ? { viaBin: true, sourceMaps: false } : {}),
    });
    this.nodes.push(n);
    await n.daemon.start();
    return n;
  }

  /** Starts a daemon and joins it as a worker through `via` (default the first manager); resolves once the manager sees it Ready. */
  async addWorker(via: ClusterNode = this.manager): Promise<ClusterNode> {
    const n = await this.addDaemon();
    // Its own listen address, as a host's own 2377: a worker promoted later listens there, never on
    // 0.0.0.0:2377 that another test's daemon on this machine may hold.
    const out = n.dockerOk(['swarm', 'join', '--token', this.token('worker'), '--advertise-addr', n.ip, '--listen-addr', `${n.ip}:${this.port}`, `${via.ip}:${this.port}`]);
    if (!/This node joined a swarm as a worker\./.test(out)) throw new Error(`unexpected join output: ${out}`);
    n.nodeId = n.dockerOk(['info', '--format', '{{.Swarm.NodeID}}']).trim();
    await this.waitNodeState(n, 'ready', 15_000);
    return n;
  }

  /** Starts a daemon and joins it as a manager (listening on its own address, the cluster's port). */
  async addManager(via: ClusterNode = this.manager): Promise<ClusterNode> {
    const n = await this.addDaemon();
    const token = via.dockerOk(['swarm', 'join-token', '-q', 'manager']).trim();
    const out = n.dockerOk(['swarm', 'join', '--token', token, '--advertise-addr', n.ip, '--listen-addr', `${n.ip}:${this.port}`, `${via.ip}:${this.port}`]);
    if (!/This node joined a swarm as a manager\./.test(out)) throw new Error(`unexpected join output: ${out}`);
    n.nodeId = n.dockerOk(['info', '--format', '{{.Swarm.NodeID}}']).trim();
    return n;
  }

  token(role: 'worker' | 'manager'): string {
    return this.manager.dockerOk(['swarm', 'join-token', '-q', role]).trim();
  }

  /** Node objects as the manager's API returns them. */
  async nodeList(): Promise<NodeJson[]> {
    const r = await this.manager.daemon.api<NodeJson[]>('GET', '/v1.47/nodes');
    if (r.status !== 200) throw new Error(`GET /nodes: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async tasks(filters: Record<string, string[]> = {}): Promise<TaskJson[]> {
    const r = await this.manager.daemon.api<TaskJson[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify(filters))}`);
    if (r.status !== 200) throw new Error(`GET /tasks: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Running tasks (desired and observed) of a service. */
  async running(service: string): Promise<TaskJson[]> {
    return (await this.tasks({ service: [service] })).filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
  }

  async waitNodeState(n: ClusterNode, state: string, timeoutMs: number): Promise<void> {
    await waitFor(async () => (await this.nodeList()).find((x) => x.ID === n.nodeId)?.Status.State === state, timeoutMs, `${n.hostname} ${state}`, 50);
  }

  /** kill -9 of the node's daemon (its tasks keep running in their runtime). */
  kill9(n: ClusterNode): void {
    n.daemon.kill9();
    n.killed = true;
  }

  /** Starts a killed or stopped daemon again on the same data dir. */
  async restart(n: ClusterNode): Promise<void> {
    if (n.daemon.proc && n.daemon.proc.exitCode === null && n.daemon.proc.signalCode === null) await n.daemon.stop();
    await n.daemon.start();
    n.killed = false;
  }

  /** Silently drops the node's RPC traffic to `peers` (default: everything). */
  partition(n: ClusterNode, peers: string[] = ['*']): void {
    if (!n.daemon.opts.faultFile) throw new Error(`${n.hostname} runs as shipped (asShipped): it has no fault injector to partition it`);
    fs.writeFileSync(n.faultFile + '.tmp', JSON.stringify({ drop: peers }));
    fs.renameSync(n.faultFile + '.tmp', n.faultFile);
  }

  heal(n: ClusterNode): void {
    this.partition(n, []);
  }

  /** Removes every service, waits for their tasks to go, takes workers out and stops everything. */
  async cleanup(): Promise<void> {
    for (const n of this.nodes) {
      this.heal(n);
      if (n.killed) await this.restart(n).catch(() => undefined);
    }
    const m = this.manager;
    if (m) {
      const ls = m.docker(['service', 'ls', '-q']).stdout.trim();
      if (ls) m.docker(['service', 'rm', ...ls.split('\n')]);
      await waitFor(async () => (await this.tasks()).length === 0, 30_000, 'all tasks gone').catch(() => undefined);
    }
    for (const n of this.workers) n.docker(['swarm', 'leave', '--force'], { timeoutMs: 20_000 });
    m?.docker(['swarm', 'leave', '--force']);
    await Promise.all(this.nodes.map((n) => n.daemon.cleanup().catch(() => undefined)));
  }
}
