// A cluster for scale runs (bench/scale.ts, test/integration/scale-smoke.test.ts): 1 or 3 real manager
// daemons (Raft with fsync, process runtime, drained so that no task runs on them) and N simulated
// worker nodes (sim-nodes.ts) spread over a few child processes. Every wait is bounded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestCluster, type ClusterNode, type NodeJson } from './cluster';
import { SimFleetProcess } from './sim-fleet-process';
import type { FleetStats } from './sim-nodes';
import { ping, sleep, waitFor } from './daemon';

export interface ScaleClusterOptions {
  nodes: number;
  managers: 1 | 3;
  /** Child processes the simulated nodes are spread over (default: one per 250 nodes, 1–4). */
  procs?: number;
  /**
   * Raft tick (ms) of the managers; default the daemon's, Docker's 1 s (elections after 10–20 s without
   * the leader's heartbeats). Shorter ticks depose a leader whose event loop is busy with a burst of
   * 1,000 sessions (200 ms: leadership moved every 8–35 s at 1,000 nodes); a leader that dies is
   * replaced within about a second whatever the tick (leader-watch.ts).
   */
  raftTickMs?: number;
  /** Dispatcher heartbeat period (`docker swarm update --dispatcher-heartbeat`, e.g. "5s"; default Docker's). */
  heartbeat?: string;
  /** How long a simulated task takes to start (ms). */
  startMs?: number;
  /** A directory for V8 CPU profiles of the managers and (under fleet/) the simulated fleets, written when they stop (node --cpu-prof). */
  cpuProfDir?: string;
  /**
   * A directory for heap snapshots of the managers (node's `--heapsnapshot-signal=SIGUSR2`, written into
   * it by `heapSnapshot()`).
   */
  heapSnapshotDir?: string;
  /** Extra daemon flags per manager (e.g. `--metrics-addr ip:port`). */
  managerArgs?: (ip: string) => string[];
  hostPrefix?: string;
  log?: (line: string) => void;
  /** Flags for node itself in each manager (e.g. V8's `--max-semi-space-size=64`). */
  managerNodeArgs?: string[];
  /** Extra environment for each manager (e.g. the large-cluster malloc tuning). */
  managerEnv?: Record<string, string>;
  /** Flags for node itself in each simulated-fleet process (the load generator, not a product process). */
  fleetNodeArgs?: string[];
  /** Managers run as users run them (TestCluster's asShipped): what benches measure. */
  asShipped?: boolean;
}

export interface ServiceCounts {
  running: number;
  desired: number;
}

interface NodeWithManager extends NodeJson {
  ManagerStatus?: { Leader?: boolean; Reachability?: string; Addr?: string };
}

export class ScaleCluster {
  readonly cluster: TestCluster;
  managers: ClusterNode[] = [];
  fleets: SimFleetProcess[] = [];
  /** Node IDs of every simulated node, per fleet. */
  fleetNodes: string[][] = [];
  private readonly log: (line: string) => void;

  constructor(readonly opts: ScaleClusterOptions) {
    this.log = opts.log ?? (() => undefined);
    this.cluster = new TestCluster({
      workers: 0,
      heartbeat: opts.heartbeat,
      daemonArgs: opts.raftTickMs ? ['--raft-tick-ms', String(opts.raftTickMs)] : [],
      nodeArgs: opts.managerArgs,
      runtimeArgs: [
        ...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []),
        ...(opts.heapSnapshotDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${opts.heapSnapshotDir}`] : []),
        ...(opts.managerNodeArgs ?? []),
      ],
      ...(opts.managerEnv ? { daemonEnv: opts.managerEnv } : {}),
      hostPrefix: opts.hostPrefix ?? 'scale-mgr',
      asShipped: opts.asShipped,
    });
  }

  /** Managers up (and drained), then every simulated node joined, in session and Ready. Returns the join time (s). */
  async start(): Promise<{ joinSeconds: number }> {
    const c = this.cluster;
    await this.startManagers();
    const token = c.token('worker');
    const addrs = this.managers.map((m) => `${m.ip}:${c.port}`);
    const procs = this.opts.procs ?? Math.min(4, Math.max(1, Math.ceil(this.opts.nodes / 250)));
    const t0 = Date.now();
    const fleetArgs = [...(this.opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', `${this.opts.cpuProfDir}/fleet`] : []), ...(this.opts.fleetNodeArgs ?? [])];
    this.fleets = Array.from({ length: procs }, () => new SimFleetProcess(fleetArgs));
    const per = Math.ceil(this.opts.nodes / procs);
    this.fleetNodes = await Promise.all(
      this.fleets.map((f, i) =>
        f.start({ managers: addrs, token, count: Math.max(0, Math.min(per, this.opts.nodes - i * per)), hostPrefix: `sim${i}`, startMs: this.opts.startMs ?? 0 }),
      ),
    );
    this.log(`joined ${this.opts.nodes} simulated nodes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await waitFor(async () => (await this.readyWorkers()) >= this.opts.nodes, 300_000, `${this.opts.nodes} simulated nodes ready`, 500);
    return { joinSeconds: (Date.now() - t0) / 1000 };
  }

  private async startManagers(): Promise<void> {
    const c = this.cluster;
    await c.start();
    this.managers = [c.manager];
    if (this.opts.managers === 3) this.managers.push(await c.addManager(c.manager), await c.addManager(c.manager));
    for (const m of this.managers) c.manager.dockerOk(['node', 'update', '--availability', 'drain', m.hostname]);
  }

  /** A manager that answers (the leader if known). */
  get api(): ClusterNode {
    return this.managers.find((m) => !m.killed)!;
  }

  async nodes(via: ClusterNode = this.api): Promise<NodeWithManager[]> {
    const r = await via.daemon.api<NodeWithManager[]>('GET', '/v1.47/nodes');
    if (r.status !== 200) throw new Error(`GET /nodes: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async readyWorkers(): Promise<number> {
    return (await this.nodes()).filter((n) => n.Spec.Role === 'worker' && n.Status.State === 'ready').length;
  }

  /** The manager that leads now, as `via` sees it. */
  async leader(via: ClusterNode = this.api): Promise<ClusterNode | undefined> {
    const host = (await this.nodes(via)).find((n) => n.ManagerStatus?.Leader)?.Description.Hostname;
    return this.managers.find((m) => m.hostname === host);
  }

  /**
   * Creates a service. On a loaded machine a leader may lose its leadership while the write is in
   * flight (503): the write is tried again a bounded number of times, and a 409 then means the
   * first try did commit.
   */
  async createService(spec: Record<string, unknown>): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.api.daemon.api<{ ID: string; message?: string }>('POST', '/v1.47/services/create', spec);
      if (r.status === 201) return r.body.ID;
      if (r.status === 409 && attempt > 0) {
        const found = await this.api.daemon.api<{ ID: string }>('GET', `/v1.47/services/${encodeURIComponent(String(spec.Name))}`);
        if (found.status === 200) return found.body.ID;
      }
      if (r.status !== 503 || attempt >= 10) throw new Error(`service create: ${r.status} ${JSON.stringify(r.body)}`);
      this.log(`service create: ${r.body.message ?? r.status}; trying again`);
      await sleep(500);
    }
  }

  /** Sets a replicated service's replica count. */
  async scale(id: string, replicas: number): Promise<void> {
    const cur = await this.api.daemon.api<{ Version: { Index: number }; Spec: { Mode: unknown } & Record<string, unknown> }>('GET', `/v1.47/services/${id}`);
    const spec = { ...cur.body.Spec, Mode: { Replicated: { Replicas: replicas } } };
    const r = await this.api.daemon.api('POST', `/v1.47/services/${id}/update?version=${cur.body.Version.Index}`, spec);
    if (r.status !== 200) throw new Error(`service update: ${r.status} ${JSON.stringify(r.body)}`);
  }

  async removeService(id: string): Promise<void> {
    const r = await this.api.daemon.api('DELETE', `/v1.47/services/${id}`);
    if (r.status !== 200) throw new Error(`service rm: ${r.status} ${JSON.stringify(r.body)}`);
  }

  /** Running and desired tasks of a service (`GET /services?status=true`: counts, not the task list). */
  async counts(id: string, via: ClusterNode = this.api): Promise<ServiceCounts | undefined> {
    const r = await via.daemon.api<{ ID: string; ServiceStatus?: { RunningTasks: number; DesiredTasks: number } }[]>(
      'GET',
      `/v1.47/services?status=true&filters=${encodeURIComponent(JSON.stringify({ id: [id] }))}`,
    );
    const s = r.status === 200 ? r.body.find((x) => x.ID === id) : undefined;
    return s?.ServiceStatus ? { running: s.ServiceStatus.RunningTasks, desired: s.ServiceStatus.DesiredTasks } : undefined;
  }

  /** Waits until `ok` holds for the service's counts; returns the seconds since `t0`. */
  async waitCounts(id: string, ok: (c: ServiceCounts) => boolean, what: string, t0: number, timeoutMs = 600_000): Promise<number> {
    let last: ServiceCounts | undefined;
    const deadline = Date.now() + timeoutMs;
    let lastLog = Date.now();
    for (;;) {
      last = await this.counts(id).catch(() => undefined);
      if (last && ok(last)) return (Date.now() - t0) / 1000;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last counts ${JSON.stringify(last)}`);
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now();
        this.log(`  … ${what}: ${JSON.stringify(last)} after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      }
      await sleep(100);
    }
  }

  /** Fleet figures summed over the processes. */
  async fleetStats(): Promise<FleetStats> {
    const all = await Promise.all(this.fleets.map((f) => f.stats()));
    return all.reduce((a, b) => ({ nodes: a.nodes + b.nodes, alive: a.alive + b.alive, connected: a.connected + b.connected, running: a.running + b.running, duplicates: a.duplicates + b.duplicates }));
  }

  /** Kills `count` simulated nodes spread evenly over the fleets; returns their node IDs. */
  async killNodes(count: number): Promise<string[]> {
    const per = Math.ceil(count / this.fleets.length);
    const ids = await Promise.all(this.fleets.map((f, i) => f.kill(Math.max(0, Math.min(per, count - i * per)))));
    return ids.flat();
  }

  /**
   * Writes a heap snapshot of a manager (the cluster needs `heapSnapshotDir`) and returns its path. V8
   * writes it on the daemon's main thread, so the daemon answers /_ping again only once the file is
   * complete; the wait is bounded.
   */
  async heapSnapshot(m: ClusterNode, timeoutMs = 300_000): Promise<string> {
    const dir = this.opts.heapSnapshotDir;
    if (!dir) throw new Error('heapSnapshot: the cluster was started without heapSnapshotDir');
    const pid = m.daemon.proc?.pid;
    if (!pid) throw new Error(`heapSnapshot: ${m.hostname} has no process`);
    const mine = (f: string) => f.endsWith('.heapsnapshot') && f.includes(`.${pid}.`);
    const before = new Set(fs.readdirSync(dir).filter(mine));
    process.kill(pid, 'SIGUSR2');
    let file = '';
    await waitFor(
      async () => {
        file = fs.readdirSync(dir).find((f) => mine(f) && !before.has(f)) ?? '';
        return file !== '' && (await ping(m.daemon.sock));
      },
      timeoutMs,
      `heap snapshot of ${m.hostname}`,
      500,
    );
    return path.join(dir, file);
  }

  /** The kernel's memory summary of a manager's process (`/proc/PID/smaps_rollup`), in KiB per field. */
  static smapsRollup(m: ClusterNode): Record<string, number> {
    const out: Record<string, number> = {};
    try {
      for (const line of fs.readFileSync(`/proc/${m.daemon.proc?.pid}/smaps_rollup`, 'utf8').split('\n')) {
        const f = /^(\w+):\s+(\d+) kB/.exec(line);
        if (f) out[f[1]!] = Number(f[2]);
      }
    } catch {
      /* the process is gone */
    }
    return out;
  }

  /** RSS now and at its peak; `anon` is the process's own memory, `file` mapped file pages (the binary and its libraries). */
  /** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
  static cpuSeconds(pid: number | undefined): number {
    try {
      // fields after the command's closing parenthesis: state is 3rd, utime 14th, stime 15th of the whole line
      const rest = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(rest[11]) + Number(rest[12])) / 100;
    } catch {
      return 0;
    }
  }

  /** CPU seconds used so far by the leader, the other managers and the simulated fleets. */
  async cpuByRole(): Promise<{ leader: number; followers: number; fleet: number }> {
    const leader = await this.leader();
    let followers = 0;
    for (const m of this.managers) if (m !== leader && !m.killed) followers += ScaleCluster.cpuSeconds(m.daemon.proc?.pid);
    const fleet = this.fleets.reduce((a, f) => a + ScaleCluster.cpuSeconds(f.pid), 0);
    return { leader: leader ? ScaleCluster.cpuSeconds(leader.daemon.proc?.pid) : 0, followers, fleet };
  }

  static rssMiB(m: ClusterNode): { peak: number; now: number; anon: number; file: number } {
    try {
      const s = fs.readFileSync(`/proc/${m.daemon.proc?.pid}/status`, 'utf8');
      const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
      return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
    } catch {
      return { peak: 0, now: 0, anon: 0, file: 0 };
    }
  }

  /** Stops the fleets and every daemon, and deletes their data (with SHOAL_TEST_LOGS=1 the managers' logs are kept in a temp dir first). */
  async stop(): Promise<void> {
    await Promise.all(this.fleets.map((f) => f.stop().catch(() => undefined)));
    if (process.env.SHOAL_TEST_LOGS) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-scale-logs-'));
      for (const n of this.cluster.nodes) fs.copyFileSync(path.join(n.daemon.dataDir, 'daemon.log'), path.join(dir, `${n.hostname}.log`));
      this.log(`manager logs kept in ${dir}`);
      process.stderr.write(`scale cluster: manager logs kept in ${dir}\n`);
    }
    await Promise.all(this.cluster.nodes.map((n) => n.daemon.cleanup().catch(() => undefined)));
  }
}
