import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { isKind } from '../../lib/errors';
import type { EngineClient } from '../../engine';
import type { NetworkAttachment, NodeNetworkEntry, VipEntry } from '../../types';
import { EGRESS_LABEL, EGRESS_NETWORK, egressNetworkSpec, ENGINE_NETWORK_LABEL, engineNetworkName, engineNetworkSpec, linkPlan, teardownPlan, vipRuleset, type Command } from './core/plan';
import { entryOfAttachment, readLinkStates } from './core/state';

// The overlay's executor: reads the kernel's and the engine's state, runs what core/plan.ts decides.
// Every step is idempotent, so a restarted daemon finds its devices and engine networks and keeps
// them. All changes go through one queue: the view and the task containers' preparation never race.

export type RunResult = { code: number; stdout: string; stderr: string };
export type Runner = (argv: string[], input?: string) => Promise<RunResult>;

/** Runs a command without a shell; never throws for a non-zero exit. */
export const runCommand: Runner = (argv, input) =>
  new Promise((resolve) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', (err) => resolve({ code: -1, stdout, stderr: String(err) }));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (p.stdin) {
      p.stdin.on('error', () => undefined); // exited without reading: its exit status tells
      p.stdin.end(input);
    }
  });

/** A task's networks made ready: network ID → engine network name, and the egress network to join last. */
export interface PreparedNetworks {
  networks: Map<string, string>;
  egress?: string;
  /** Filled by the node's network layer: its DNS address on the task's first user network. */
  nameserver?: string;
}

export interface OverlayOptions {
  engine: EngineClient;
  /** This node's underlay (advertise) address: the VXLAN devices' local address. */
  localAddr: string;
  /** This node's ID: only its own task containers get VIP rules. */
  nodeId?: string;
  log: Logger;
  run?: Runner;
}

const TASK_ID_LABEL = 'com.docker.swarm.task.id';
/** How long a network made ready for a task's container is kept without a view naming it. */
const PIN_MS = 30_000;
const TEARDOWN_RETRY_MS = 2_000;
const MAX_TEARDOWN_RETRIES = 30;
const NODE_ID_LABEL = 'com.docker.swarm.node.id';

export class Overlay {
  private readonly run: Runner;
  private queue: Promise<unknown> = Promise.resolve();
  /** The last view's entries by network ID. */
  private wanted = new Map<string, NodeNetworkEntry>();
  private vips: VipEntry[] = [];
  /** Container ID → the rule set last loaded into its namespace. */
  private loaded = new Map<string, string>();
  /** Running task containers: PID and engine networks. */
  private seenContainers = new Map<string, { pid: number; networks: string[] }>();
  /** Set once a view found nothing of Shoal's left to remove; an empty view after that is a no-op. */
  private clean = false;
  private warnedEncrypted = new Set<string>();
  /**
   * Networks made ready for a task's container before any view named them, by time: kept until one
   * does (or a while), since a view computed before the task was placed may arrive after its assignment.
   */
  private pinned = new Map<string, number>();
  private retry: NodeJS.Timeout | null = null;
  private retries = 0;

  constructor(private readonly o: OverlayOptions) {
    this.run = o.run ?? runCommand;
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /**
   * The networks of a task about to be created, made ready on this node (devices and engine network);
   * returns the engine network name for each network ID, and the egress network when the task is on
   * swarm networks or `withEgress` (a container that publishes host-mode ports).
   */
  prepare(attachments: NetworkAttachment[], withEgress = false): Promise<PreparedNetworks> {
    return this.serial(async () => {
      this.clean = false;
      const names = new Map<string, string>();
      const egress = attachments.length || withEgress ? await this.ensureEgress() : undefined;
      for (const a of attachments) {
        const known = this.wanted.get(a.Network.ID);
        const e = known ?? entryOfAttachment(a);
        if (!e) throw new Error(`network ${a.Network.Spec.Name} has no subnet or VNI`);
        await this.ensure(e, false);
        // not in the view yet: keep it until a view names it (or a while)
        if (!known) this.pinned.set(e.id.slice(0, 8), Date.now());
        names.set(e.id, engineNetworkName(e));
      }
      return egress ? { networks: names, egress } : { networks: names };
    });
  }

  /** This node's address on a network as the last view gave it (CIDR), or undefined. */
  nodeAddress(networkId: string): string | undefined {
    return this.wanted.get(networkId)?.nodeAddr;
  }

  /** `docker_gwbridge` on this node's engine (made once, kept like Docker's); undefined when it cannot be had. */
  private async ensureEgress(): Promise<string | undefined> {
    try {
      const nets = await this.o.engine.networkList();
      if (nets.some((n) => n.Name === EGRESS_NETWORK)) return EGRESS_NETWORK;
      await this.o.engine.networkCreate(egressNetworkSpec());
      return EGRESS_NETWORK;
    } catch (err) {
      if (isKind(err, 'Conflict')) return EGRESS_NETWORK;
      this.o.log.warn({ err }, 'overlay: no egress network (docker_gwbridge): task containers reach only their swarm networks');
      return undefined;
    }
  }

  /** Brings this node's overlays to the view: creates and updates what it names, removes the rest. */
  apply(entries: NodeNetworkEntry[], vips: VipEntry[]): Promise<void> {
    return this.serial(async () => {
      // no overlay wanted, none left, none pinned (a docker-runtime node without swarm networks): nothing to do
      if (entries.length === 0 && this.wanted.size === 0 && this.clean && this.pinned.size === 0) return;
      this.wanted = new Map(entries.map((e) => [e.id, e]));
      this.vips = vips;
      for (const e of entries) {
        this.warnEncrypted(e);
        try {
          await this.ensure(e, true);
        } catch (err) {
          this.o.log.warn({ err, network: e.name }, 'overlay: cannot set up the network on this node');
        }
      }
      this.retries = 0;
      await this.removeUnwanted();
      await this.syncVips();
    });
  }

  /** A network left in place (in use, or pinned) is tried again a little later, a bounded number of times. */
  private retryLater(): void {
    if (this.retry || this.retries >= MAX_TEARDOWN_RETRIES) return;
    this.retries++;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.serial(() => this.removeUnwanted()).catch((err: unknown) => this.o.log.warn({ err }, 'overlay: teardown'));
    }, TEARDOWN_RETRY_MS);
    this.retry.unref();
  }

  /** Reloads the VIP rules of one container (just started). */
  containerStarted(): Promise<void> {
    return this.serial(() => this.syncVips());
  }

  /** Stops the teardown retries (the daemon stops or leaves); devices and engine networks stay. */
  close(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.retries = MAX_TEARDOWN_RETRIES;
  }

  /** Removes every device and engine network of Shoal's on this node (it left the swarm). */
  teardownAll(): Promise<void> {
    return this.serial(async () => {
      this.wanted.clear();
      this.vips = [];
      this.pinned.clear();
      this.close();
      await this.removeUnwanted();
      try {
        const mine = (await this.o.engine.networkList({ labels: [EGRESS_LABEL] })).filter((n) => n.Name === EGRESS_NETWORK);
        for (const n of mine) await this.o.engine.networkRemove(n.Id);
      } catch (err) {
        this.o.log.warn({ err }, 'overlay: cannot remove docker_gwbridge');
      }
    });
  }

  private warnEncrypted(e: NodeNetworkEntry): void {
    if (!e.encrypted || this.warnedEncrypted.has(e.id)) return;
    this.warnedEncrypted.add(e.id);
    this.o.log.warn({ network: e.name }, `network ${e.name} asks for encryption (--opt encrypted), but this node's traffic on it is NOT encrypted: this kernel has neither IPsec ESP nor WireGuard`);
  }

  private async must(cmd: Command): Promise<void> {
    const r = await this.run(cmd);
    // a device of that name not marked as Shoal's (the engine made the bridge again): it is marked next
    if (r.code !== 0 && cmd[1] === 'link' && cmd[2] === 'add' && /File exists/.test(r.stderr)) return;
    if (r.code !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  private async json(cmd: Command): Promise<unknown> {
    const r = await this.run(cmd);
    if (r.code !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
    return r.stdout.trim() ? (JSON.parse(r.stdout) as unknown) : [];
  }

  private async linkStates() {
    return readLinkStates(await this.json(['ip', '-d', '-j', 'addr', 'show']), await this.json(['bridge', '-j', 'fdb', 'show']));
  }

  private async ensure(e: NodeNetworkEntry, prune: boolean): Promise<void> {
    const have = (await this.linkStates()).get(e.id.slice(0, 8)) ?? { fdb: [] };
    for (const cmd of linkPlan(e, this.o.localAddr, have, prune)) await this.must(cmd);
    const nets = await this.o.engine.networkList({ labels: [ENGINE_NETWORK_LABEL] });
    const spec = engineNetworkSpec(e);
    const mine = nets.find((n) => n.Labels?.[ENGINE_NETWORK_LABEL] === e.id);
    if (mine && mine.Name === spec.Name && mine.IPAM?.Config?.[0]?.Subnet === e.subnet) return;
    if (mine) await this.o.engine.networkRemove(mine.Id);
    // a network of an earlier swarm network of the same name (removed and made again)
    const stale = nets.find((n) => n.Name === spec.Name && n !== mine);
    if (stale) await this.o.engine.networkRemove(stale.Id);
    try {
      await this.o.engine.networkCreate(spec);
    } catch (err) {
      if (!isKind(err, 'Conflict')) throw err;
    }
    // the engine may have put the gateway on the bridge (an engine without inhibit_ipv4): take it off
    if (prune) {
      const again = (await this.linkStates()).get(e.id.slice(0, 8)) ?? { fdb: [] };
      for (const cmd of linkPlan(e, this.o.localAddr, again, true)) await this.must(cmd);
    }
  }

  /** Engine networks and devices of networks no longer wanted; one still in use is left for the next view. */
  private async removeUnwanted(): Promise<void> {
    const keep = new Set([...this.wanted.keys()].map((id) => id.slice(0, 8)));
    const now = Date.now();
    let again = false;
    for (const [id, at] of this.pinned) {
      if (keep.has(id) || now - at >= PIN_MS) this.pinned.delete(id);
      else {
        keep.add(id);
        again = true;
      }
    }
    let nets: Awaited<ReturnType<EngineClient['networkList']>> = [];
    try {
      nets = await this.o.engine.networkList({ labels: [ENGINE_NETWORK_LABEL] });
    } catch (err) {
      this.o.log.warn({ err }, 'overlay: cannot list the engine networks');
      return;
    }
    const busy = new Set<string>();
    for (const n of nets) {
      const id = n.Labels?.[ENGINE_NETWORK_LABEL] ?? '';
      if (keep.has(id.slice(0, 8))) continue;
      try {
        await this.o.engine.networkRemove(n.Id);
        this.o.log.info({ network: n.Name }, 'overlay: network removed from this node');
      } catch (err) {
        if (isKind(err, 'NotFound')) continue;
        // a container still on it (being removed): the next view tries again
        busy.add(id.slice(0, 8));
        this.o.log.debug({ err, network: n.Name }, 'overlay: network still in use on this node');
      }
    }
    const states = await this.linkStates();
    for (const [id, st] of states) {
      if (keep.has(id) || busy.has(id)) continue;
      for (const cmd of teardownPlan(id, { bridge: !!st.bridge, vxlan: !!st.vxlan })) {
        const r = await this.run(cmd);
        if (r.code !== 0 && !/Cannot find device/.test(r.stderr)) this.o.log.warn({ cmd: cmd.join(' '), err: r.stderr.trim() }, 'overlay: teardown');
      }
    }
    if (again || busy.size > 0) this.retryLater();
    this.clean = this.wanted.size === 0 && !again && busy.size === 0;
  }

  /** Loads each running task container's VIP rules into its namespace when they changed. */
  private async syncVips(): Promise<void> {
    if (this.wanted.size === 0) {
      this.seenContainers.clear();
      this.loaded.clear();
      return;
    }
    const byName = new Map<string, string>();
    for (const e of this.wanted.values()) byName.set(engineNetworkName(e), e.id);
    const labels = [TASK_ID_LABEL];
    if (this.o.nodeId) labels.push(`${NODE_ID_LABEL}=${this.o.nodeId}`);
    let list: Awaited<ReturnType<EngineClient['containerList']>>;
    try {
      list = await this.o.engine.containerList({ labels });
    } catch (err) {
      this.o.log.warn({ err }, 'overlay: cannot list task containers');
      return;
    }
    const seen = new Set<string>();
    for (const c of list) {
      seen.add(c.Id);
      try {
        // a running task container keeps its PID and networks: inspected once
        let facts = this.seenContainers.get(c.Id);
        if (!facts) {
          const info = await this.o.engine.containerInspect(c.Id);
          facts = { pid: info.State.Pid, networks: Object.keys((info.NetworkSettings as { Networks?: Record<string, unknown> } | undefined)?.Networks ?? {}) };
          if (facts.pid) this.seenContainers.set(c.Id, facts);
        }
        const ids = new Set(facts.networks.map((n) => byName.get(n)).filter((x): x is string => !!x));
        if (!facts.pid || ids.size === 0) continue;
        const rules = vipRuleset(this.vips.filter((v) => ids.has(v.networkId)));
        const key = `${facts.pid}\n${rules}`;
        if (this.loaded.get(c.Id) === key) continue;
        const r = await this.run(['nsenter', `--net=/proc/${facts.pid}/ns/net`, 'nft', '-f', '-'], rules);
        if (r.code !== 0) throw new Error(r.stderr.trim());
        this.loaded.set(c.Id, key);
      } catch (err) {
        this.o.log.warn({ err, container: c.Id }, 'overlay: cannot load the VIP rules of a task container');
      }
    }
    for (const id of [...this.loaded.keys()]) if (!seen.has(id)) this.loaded.delete(id);
    for (const id of [...this.seenContainers.keys()]) if (!seen.has(id)) this.seenContainers.delete(id);
  }
}


