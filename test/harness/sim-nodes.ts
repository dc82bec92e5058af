// Simulated worker nodes for scale tests and bench/scale.ts. Each one is a real agent as far as the
// managers can tell: it joins through the real join flow (root CA pinned by the token's digest, once per
// fleet; its own key and CSR answered by the CA's IssueNodeCertificate RPC with the join token), holds its own node certificate and key, and runs the
// real Agent (src/agent) over the real RemoteDispatcherConnector: a mutual-TLS gRPC session of its
// own, heartbeats, the assignment stream and batched status reports. Only the executor is in memory
// (ScriptedExecutor: a task "starts" in `startMs` and runs until stopped), so hundreds of nodes fit in
// one process. Every wait is bounded.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent } from '../../src/agent/agent';
import { RemoteDispatcherConnector } from '../../src/agent/remote-dispatcher';
import { ScriptedEngine, ScriptedExecutor } from '../../src/agent/executor/testing/scripted-executor';
import type { ExecutorDescription } from '../../src/agent/executor/types';
import { fetchPinnedRootCA, joinWithRootCA, type JoinResult } from '../../src/manager/ca/join';

export interface SimFleetOptions {
  /** Manager addresses (host:port) to join through and to hold sessions with. */
  managers: string[];
  /** The worker join token. */
  token: string;
  /** Nodes in this fleet. */
  count: number;
  /** Hostnames are `<hostPrefix>-<i>` (default "sim"). */
  hostPrefix?: string;
  /** Where the nodes' state (worker/tasks.json, state.key) goes; default a new dir under /dev/shm (or the temp dir). */
  dataDir?: string;
  /** How long a task takes to start (ms; default 0). */
  startMs?: number;
  /** Joins in flight at once (default 32). */
  joinConcurrency?: number;
}

class SimExecutor extends ScriptedExecutor {
  constructor(
    engine: ScriptedEngine,
    private readonly hostname: string,
  ) {
    super(engine, () => ({}));
  }
  override async describe(): Promise<ExecutorDescription> {
    return { ...(await super.describe()), hostname: this.hostname };
  }
}

function simLogger(host: string) {
  const line = (level: string) => (obj: unknown, msg?: string) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${host} ${level} ${msg ?? ''} ${JSON.stringify(obj)}\n`);
  return { debug: () => undefined, info: () => undefined, warn: line('warn'), error: line('error') };
}

/** One simulated node: its credentials, its agent, its in-memory "engine". */
export class SimNode {
  agent: Agent | null = null;
  private connector: RemoteDispatcherConnector | null = null;
  /** Killed: no connection, no session, no reports. */
  down = false;
  readonly engine: ScriptedEngine;

  constructor(
    readonly hostname: string,
    readonly creds: JoinResult,
    readonly dataDir: string,
    startMs: number,
  ) {
    this.engine = new ScriptedEngine(20, startMs);
  }

  get nodeId(): string {
    return this.creds.nodeId;
  }

  async start(managers: string[]): Promise<void> {
    const connector = new RemoteDispatcherConnector({ managers, credentials: () => this.creds });
    this.connector = connector;
    this.agent = new Agent({
      dataDir: this.dataDir,
      executor: new SimExecutor(this.engine, this.hostname),
      nodeId: this.creds.nodeId,
      addr: '127.0.0.1',
      dispatcher: () => {
        if (this.down) throw new Error('simulated node is down');
        return connector.connect();
      },
      clock: { now: () => Date.now() },
      // The state file is the node's own (no manager reads it, and a simulated node is never restarted
      // from it); hundreds of simulated nodes in one process writing theirs every 100 ms took half of
      // the fleet's CPU, which the managers share, and every 2 s still a fifth of it.
      stateSaveMs: 30_000,
      // SHOAL_SIM_LOG=1: the agents' warnings (session failures, reconnects) on stderr
      ...(process.env.SHOAL_SIM_LOG ? { logger: simLogger(this.hostname) } : {}),
    });
    await this.agent.start();
  }

  get connected(): boolean {
    return !!this.agent?.connected;
  }

  /** Runtime objects that run (the node's "containers"). */
  running(): string[] {
    const out: string[] = [];
    for (const o of this.engine.objects.values()) if (o.state === 'running') out.push(o.taskId);
    return out;
  }

  /** The node dies as a host would: its connection drops at once, nothing more is sent. */
  async kill(): Promise<void> {
    this.down = true;
    this.connector?.close();
    await this.agent?.stop();
  }

  /** A clean stop of the agent (tasks stay "running" in the engine, as a daemon stop leaves them). */
  async stop(): Promise<void> {
    await this.agent?.stop();
    this.connector?.close();
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

export interface FleetStats {
  nodes: number;
  alive: number;
  connected: number;
  /** Runtime objects running over all live nodes. */
  running: number;
  /** Task IDs running on more than one live node. */
  duplicates: number;
}

/** Many simulated nodes in this process. */
export class SimFleet {
  readonly nodes: SimNode[] = [];
  readonly dataDir: string;
  private ownDir: boolean;

  constructor(private readonly opts: SimFleetOptions) {
    this.ownDir = !opts.dataDir;
    const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    this.dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(base, 'shoal-sim-'));
  }

  /** Joins every node (real join flow, each its own key and certificate), then starts their agents. */
  async start(): Promise<void> {
    const prefix = this.opts.hostPrefix ?? 'sim';
    const names = Array.from({ length: this.opts.count }, (_, i) => `${prefix}-${i}`);
    const addr = this.opts.managers[0]!;
    // The root CA is fetched and checked against the token's digest once (an unverified TLS context
    // loads the system's trust store, ~0.5 s of CPU each); every node then sends its own CSR with the token.
    const caPem = await fetchPinnedRootCA(addr, this.opts.token, 30_000);
    const joined = await pool(names, this.opts.joinConcurrency ?? 32, async (hostname) => {
      let last: unknown;
      // a manager busy with a burst of joins may time one out: a bounded number of tries
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          return await joinWithRootCA({ address: addr, token: this.opts.token, hostname, addr: '127.0.0.1', timeoutMs: 30_000 }, caPem);
        } catch (e) {
          last = e;
          await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
        }
      }
      throw new Error(`${hostname}: join failed: ${String(last)}`);
    });
    for (let i = 0; i < names.length; i++) this.nodes.push(new SimNode(names[i]!, joined[i]!, path.join(this.dataDir, names[i]!), this.opts.startMs ?? 0));
    await pool(this.nodes, 64, (n) => n.start(this.opts.managers));
  }

  stats(): FleetStats {
    let alive = 0;
    let connected = 0;
    let running = 0;
    let duplicates = 0;
    const seen = new Set<string>();
    for (const n of this.nodes) {
      if (!n.agent) continue;
      if (n.connected) connected++;
      if (n.down) continue;
      alive++;
      for (const id of n.running()) {
        running++;
        if (seen.has(id)) duplicates++;
        seen.add(id);
      }
    }
    return { nodes: this.nodes.length, alive, connected, running, duplicates };
  }

  /** Running task IDs per live node ID. */
  runningByNode(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const n of this.nodes) if (!n.down) out[n.nodeId] = n.running();
    return out;
  }

  /** Kills the last `count` live nodes at once; returns their node IDs. */
  async kill(count: number): Promise<string[]> {
    const victims = this.nodes.filter((n) => !n.down).slice(-count);
    await Promise.all(victims.map((n) => n.kill()));
    return victims.map((n) => n.nodeId);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop().catch(() => undefined)));
    if (this.ownDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
