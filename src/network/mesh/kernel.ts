// The routing mesh's kernel data path (mesh.md "Kernel path"): nftables DNAT + masquerade in the daemon's own network
// namespace for the published ports that core/nft.ts says the kernel can carry. This file only runs things: `nft`
// as a child process, a connect probe per new TCP backend, the forwarding sysctl. What to write is decided in core.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { backendKey, forwardPolicy, kernelEligible, kernelPorts, meshRemoval, meshRuleset, meshUpdate, needsForwarding, parseKernelCounters, type KernelPort, type KernelPortCounters } from './core/nft';
import { CONNTRACK_SWEEP_MS, conntrackDeletes, parseConntrack, publishedBackendKey, stillWatched, sweepProtocols, watchRemoved, type RemovedBackend } from './core/conntrack';
import type { PortKey, PublishedPortTable } from './core/types';
import { portKey } from './core/types';
import type { MeshLogger } from './port';

export interface KernelPathOptions {
  /** The nft program (default `nft` on PATH). */
  nftPath: string;
  /** The table the mesh owns (default `shoal-mesh`). */
  table: string;
  /** The address the mesh listens on: 0.0.0.0 = every local address. */
  bindHost: string;
  logger: MeshLogger;
  /** Between connect probes of a TCP backend that has not accepted yet (default 200 ms). */
  probeIntervalMs?: number;
  /** The conntrack program that drops a removed backend's stale flows (default `conntrack`; core/conntrack.ts). */
  conntrackPath?: string;
}

type NftResult = { ok: boolean; stdout: string; stderr: string };
const FORWARD_SYSCTL = '/proc/sys/net/ipv4/ip_forward';
const PROBE_TIMEOUT_MS = 1000;
const FORWARD_RECHECK_MS = 10_000;

/** Why this process cannot program nftables at all, or undefined when it may try. */
export function kernelPathUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'the daemon is not root';
  return undefined;
}

export class KernelPath {
  /** undefined until the first sync decides; false after a fallback (logged once). */
  private usable: boolean | undefined;
  private tables: readonly PublishedPortTable[] = [];
  private readonly admitted = new Set<string>();
  /** TCP backends being probed: key → the timer of the next attempt (or null while one runs). */
  private readonly probes = new Map<string, NodeJS.Timeout | null>();
  /** The rule set text loaded now ('' = no table of ours). */
  private loaded = '';
  private inKernel = new Set<PortKey>();
  private loadedPorts: KernelPort[] = [];
  /** When another table's forward policy was last looked at, and what it said. */
  private forwardChecked?: { at: number; dropped?: string };
  /** Counters of rule sets replaced since each port was published (nft resets named counters on replace). */
  private readonly carried = new Map<PortKey, KernelPortCounters>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private warnedForward = false;
  private forwardingOn = false;
  /** Backends that left a kernel port's map lately: their stale conntrack entries are dropped (core/conntrack.ts). */
  private watched: RemovedBackend[] = [];
  private sweepTimer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  /** Set when the conntrack program failed: no more sweeps (logged once). */
  private conntrackBroken = false;

  constructor(private readonly o: KernelPathOptions) {}

  /** The ports the kernel forwards now (the rest go through the user-space listeners). */
  ports(): ReadonlySet<PortKey> {
    return this.inKernel;
  }

  /** False once the kernel path fell back to user space for good (no nft, no nf_tables, no root). */
  get available(): boolean {
    return this.usable !== false;
  }

  /** The node's whole ingress table; resolves when the kernel matches what is known now. */
  setTables(tables: readonly PublishedPortTable[]): Promise<void> {
    this.tables = tables;
    // TCP backends the kernel could use are probed (one connection each, opened and closed, per node); UDP needs none
    const want = new Map<string, { host: string; port: number }>();
    if (this.usable !== false) for (const t of tables) if (t.protocol === 'tcp' && kernelEligible(t)) for (const b of t.backends) want.set(backendKey(b), b);
    for (const [k, timer] of this.probes) {
      if (want.has(k)) continue;
      if (timer) clearTimeout(timer);
      this.probes.delete(k);
    }
    for (const k of this.admitted) if (!want.has(k)) this.admitted.delete(k);
    for (const [k, b] of want) if (!this.admitted.has(k) && !this.probes.has(k)) this.probe(b.host, b.port, k);
    const published = new Set(tables.map((t) => portKey(t)));
    for (const k of this.carried.keys()) if (!published.has(k)) this.carried.delete(k);
    return this.sync();
  }

  /** Connects to a new TCP backend until it accepts once: only then does it join the kernel's map. */
  private probe(host: string, port: number, key: string): void {
    this.probes.set(key, null);
    const s = net.connect({ host, port });
    const timer = setTimeout(() => s.destroy(new Error('probe timeout')), PROBE_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      if (!this.probes.has(key) || this.closed) return;
      this.probes.delete(key);
      this.admitted.add(key);
      this.o.logger.debug({ backend: key }, 'mesh: backend accepted a connection, kernel path admits it');
      void this.sync();
    });
    s.once('error', () => {
      clearTimeout(timer);
      if (!this.probes.has(key) || this.closed) return;
      this.probes.set(key, setTimeout(() => this.probe(host, port, key), this.o.probeIntervalMs ?? 200));
    });
  }

  /** Loads the rule set the current facts call for, when it differs from the one loaded. One at a time. */
  private sync(): Promise<void> {
    const run = this.queue.then(() => this.syncNow());
    this.queue = run.catch((err: unknown) => this.o.logger.warn({ err: String(err) }, 'mesh: kernel path sync failed'));
    return this.queue;
  }

  private async syncNow(): Promise<void> {
    if (this.closed || this.usable === false) return;
    if (this.usable === undefined) {
      const why = kernelPathUnavailable() ?? (await this.nftMissing());
      if (why) {
        this.fallBack(why);
        return;
      }
      this.usable = true;
    }
    const localAddrs = localIPv4();
    const facts = { admitted: this.admitted, localAddrs, forwardOk: true };
    let ports = kernelPorts(this.tables, facts);
    // backends on other hosts: the packets are forwarded, which another table's policy or the sysctl may forbid
    if (needsForwarding(ports, localAddrs) && !(await this.forwardingAllowed())) ports = kernelPorts(this.tables, { ...facts, forwardOk: false });
    // once a table was loaded here it stays, NAT chains and all, while no port needs it: the flows it NATed are
    // translated only while a NAT chain is hooked (meshRuleset); a daemon that never carried a port writes nothing
    const text = ports.length || this.loaded ? meshRuleset(ports, { table: this.o.table, bindHost: this.o.bindHost }) : '';
    if (text === this.loaded) return;
    // backends only changed (the common case: a task leaving or joining): one transaction that refills the port
    // chains, so a leaving backend is out after a single nft run and the counters keep counting
    const update = meshUpdate(this.loadedPorts, ports, { table: this.o.table });
    let r = update === undefined ? undefined : await this.nft(['-f', '-'], update);
    if (!r?.ok) {
      // the first load, a changed port set, or an update that failed (the table was changed behind us): replace it
      if (this.inKernel.size) await this.carryCounters();
      r = await this.nft(['-f', '-'], text);
    }
    if (!r.ok) {
      // nf_tables missing or refused (e.g. no NAT support): the user-space listeners serve every port
      this.fallBack(r.stderr.trim() || 'nft failed');
      await this.nft(['-f', '-'], meshRemoval(this.o.table));
      return;
    }
    const prevPorts = this.loadedPorts;
    this.loaded = text;
    this.loadedPorts = ports;
    this.inKernel = new Set(ports.map((p) => portKey(p)));
    this.o.logger.debug({ ports: [...this.inKernel] }, 'mesh: kernel path loaded');
    // a backend out of the map gets no new connection, but conntrack keeps its flows' bindings: drop the stale ones
    // now (before `setTables` resolves: the node's acknowledgement of the removal covers them) and for a while after
    const published = new Set(this.tables.flatMap((t) => t.backends.map((b) => publishedBackendKey(t.protocol, t.port, b))));
    const now = Date.now();
    this.watched = watchRemoved(this.watched, prevPorts, ports, published, now);
    if (this.watched.some((r) => r.removedAt === now)) await this.sweepConntrack();
  }

  /** One sweep of the watched backends' conntrack entries (after any running one); the next is scheduled. */
  private sweepConntrack(): Promise<void> {
    const run = (this.sweeping ?? Promise.resolve()).then(() => this.sweepNow());
    const done = run.finally(() => {
      if (this.sweeping === done) this.sweeping = undefined;
      this.scheduleSweep();
    });
    this.sweeping = done;
    return done;
  }

  private scheduleSweep(): void {
    if (this.sweepTimer || this.closed || this.conntrackBroken) return;
    this.watched = stillWatched(this.watched, Date.now());
    if (this.watched.length === 0) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweepConntrack().catch((err: unknown) => this.o.logger.warn({ err: String(err) }, 'mesh: conntrack sweep failed'));
    }, CONNTRACK_SWEEP_MS);
    this.sweepTimer.unref?.();
  }

  private async sweepNow(): Promise<void> {
    if (this.closed || this.conntrackBroken) return;
    const watched = this.watched;
    for (const proto of sweepProtocols(watched)) {
      const list = await this.conntrack(['-L', '-p', proto, '--dst-nat']);
      if (!list.ok) {
        this.conntrackBroken = true;
        this.o.logger.warn({ err: list.stderr.trim() }, 'mesh: conntrack unavailable; flows of a backend that left the kernel path stay on it until they end');
        return;
      }
      for (const args of conntrackDeletes(watched, parseConntrack(list.stdout), Date.now())) {
        const r = await this.conntrack(args);
        this.o.logger.debug({ args: args.join(' '), ok: r.ok }, 'mesh: dropped conntrack entries of a backend that left the map');
      }
    }
  }

  private conntrack(args: string[]): Promise<NftResult> {
    return this.run(this.o.conntrackPath ?? 'conntrack', args);
  }

  private fallBack(why: string): void {
    this.usable = false;
    for (const t of this.probes.values()) if (t) clearTimeout(t);
    this.probes.clear();
    this.loaded = '';
    this.loadedPorts = [];
    this.inKernel = new Set();
    this.watched = [];
    this.o.logger.warn({ reason: why }, 'mesh: kernel path unavailable, the user-space proxy serves every published port');
  }

  /** Why nft cannot be used, or undefined; a table of ours left by a daemon that died is replaced at the next load. */
  private async nftMissing(): Promise<string | undefined> {
    const r = await this.nft(['list', 'tables']);
    if (!r.ok) return `${this.o.nftPath}: ${r.stderr.trim() || 'failed'}`;
    if (r.stdout.split('\n').some((l) => l.trim() === `table ip ${this.o.table}`)) this.loaded = 'left by an earlier daemon';
    return undefined;
  }

  private async forwardingAllowed(): Promise<boolean> {
    // looked at again every 10 s at most: one nft run less on the path of a backend leaving
    const now = Date.now();
    if (!this.forwardChecked || now - this.forwardChecked.at > FORWARD_RECHECK_MS) {
      const policy = (await this.readForwardPolicy()) ?? (await this.readForwardPolicy());
      // unread twice: no evidence either way, so the user-space proxy keeps the remote backends this time and the
      // next sync looks again (turning forwarding on past a dropping chain would lose their packets)
      if (!policy) return false;
      this.forwardChecked = { at: now, dropped: policy.dropped };
    }
    const dropped = this.forwardChecked.dropped;
    if (dropped) {
      if (!this.warnedForward) {
        this.warnedForward = true;
        this.o.logger.warn({ chain: dropped }, 'mesh: a forward chain of another table drops by policy; the kernel path keeps to backends on this node, the user-space proxy serves the rest');
      }
      return false;
    }
    return this.ensureForwarding();
  }

  private async readForwardPolicy(): Promise<{ dropped?: string } | undefined> {
    const r = await this.nft(['-j', 'list', 'chains']);
    const policy = r.ok ? forwardPolicy(r.stdout, this.o.table) : undefined;
    if (!policy) this.o.logger.debug({ stderr: r.stderr.trim() }, 'mesh: the forward chains could not be listed');
    return policy;
  }

  /** IPv4 forwarding in this namespace, turned on when off (as Docker does for its bridges); false when it cannot be. */
  private ensureForwarding(): boolean {
    if (this.forwardingOn) return true;
    try {
      if (fs.readFileSync(FORWARD_SYSCTL, 'utf8').trim() !== '1') {
        fs.writeFileSync(FORWARD_SYSCTL, '1');
        this.o.logger.warn({ sysctl: 'net.ipv4.ip_forward=1' }, 'mesh: turned on IPv4 forwarding in this network namespace for the kernel path');
      }
      this.forwardingOn = true;
      return true;
    } catch (err) {
      if (!this.warnedForward) {
        this.warnedForward = true;
        this.o.logger.warn({ err: String(err) }, 'mesh: cannot turn on IPv4 forwarding; the kernel path keeps to backends on this node');
      }
      return false;
    }
  }

  /** Counters of the kernel-forwarded ports: since each port was published, across rule set replacements. */
  async counters(): Promise<Map<PortKey, KernelPortCounters>> {
    const now = this.inKernel.size ? await this.readCounters() : new Map<PortKey, KernelPortCounters>();
    const out = new Map<PortKey, KernelPortCounters>();
    for (const [k, c] of this.carried) out.set(k, { ...c });
    for (const [k, c] of now) out.set(k, addCounters(out.get(k), c));
    return out;
  }

  private async readCounters(): Promise<Map<PortKey, KernelPortCounters>> {
    const r = await this.nft(['-j', 'list', 'counters', 'table', 'ip', this.o.table]);
    return r.ok ? parseKernelCounters(r.stdout) : new Map();
  }

  private async carryCounters(): Promise<void> {
    for (const [k, c] of await this.readCounters()) this.carried.set(k, addCounters(this.carried.get(k), c));
  }

  /** Removes the table (daemon stop, swarm leave); established flows keep their conntrack NAT until they end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.probes.values()) if (t) clearTimeout(t);
    this.probes.clear();
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    await this.queue;
    await this.sweeping;
    if (this.loaded) await this.nft(['-f', '-'], meshRemoval(this.o.table));
    this.loaded = '';
    this.loadedPorts = [];
    this.inKernel = new Set();
  }

  private nft(args: string[], input?: string): Promise<NftResult> {
    return this.run(this.o.nftPath, args, input);
  }

  private run(program: string, args: string[], input?: string): Promise<NftResult> {
    return new Promise((resolve) => {
      const child = execFile(program, args, { timeout: 10_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
        resolve({ ok: !err, stdout: String(stdout), stderr: String(stderr) || (err ? err.message : '') }),
      );
      child.stdin?.on('error', () => undefined); // exited without reading: its status tells
      child.stdin?.end(input ?? '');
    });
  }
}

function addCounters(a: KernelPortCounters | undefined, b: KernelPortCounters): KernelPortCounters {
  if (!a) return { ...b };
  return { conns: a.conns + b.conns, packetsIn: a.packetsIn + b.packetsIn, bytesIn: a.bytesIn + b.bytesIn, packetsOut: a.packetsOut + b.packetsOut, bytesOut: a.bytesOut + b.bytesOut };
}

/** The IPv4 addresses of this network namespace's interfaces. */
function localIPv4(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4') out.add(a.address);
  return out;
}
