import type { Logger } from 'pino';
import type { NetworkAttachment, NodeNetworkView } from '../types';
import { addrOfCidr } from '../lib/ipam';
import { DnsServer, parseHostPort, type DnsListener, type Upstream } from './dns';
import { RoutingMesh, type MeshPortStatus, type PublishedPortTable } from './mesh';
import type { Overlay, PreparedNetworks } from './overlay';

/** What one task's container asks of the node's network layer (the docker runtime's `TaskNetworkNeeds`). */
export interface TaskNetworkNeeds {
  attachments: NetworkAttachment[];
  /** The container publishes host-mode ports: it joins the egress network, where the engine publishes them. */
  publishesHostPorts: boolean;
  /** The task's own DNS servers (`--dns`). */
  dnsServers?: string[];
}

/**
 * A node's network layer: programs what the dispatcher's network view asks for: the routing mesh
 * (every ingress-published port answered on this node) and, on the docker runtime as root, the
 * overlays (a bridge and a VXLAN device per network, the task containers' VIP rules), and the names
 * its embedded DNS server answers (`view.names`; docs/design/dns.md).
 */
export class NodeNetwork {
  private readonly mesh: RoutingMesh;
  private last = '';
  /** The last table's application by the mesh (settled: failures are logged, never thrown). */
  private meshApplied: Promise<void> = Promise.resolve();
  private lastOverlay = '';
  private overlay?: Overlay;
  /** The embedded DNS server (docs/design/dns.md); `dns.listen` serves a network's names on an address. */
  readonly dns: DnsServer;
  /** Overlay network ID → the DNS listener on this node's address there (port 53, that network's names). */
  private readonly netDns = new Map<string, { addr: string; listener: Promise<DnsListener | undefined> }>();

  constructor(
    private readonly log: Logger,
    opts: { meshBindHost?: string; meshNft?: string; dnsListen?: string; dnsUpstreams?: string[] } = {},
  ) {
    // The kernel path is on unless `--mesh-nft none`: it falls back to the proxy by itself without root, nft or
    // nf_tables, and leaves PROXY ports, loopback clients and not-yet-answering backends to it (mesh.md "Kernel path").
    const kernel = opts.meshNft === 'none' ? { kernel: false } : { nftPath: opts.meshNft ?? 'nft' };
    this.mesh = new RoutingMesh({ bindHost: opts.meshBindHost ?? '0.0.0.0', logger: log.child({ component: 'mesh' }), ...kernel });
    this.dns = new DnsServer({ logger: log.child({ component: 'dns' }), ...(opts.dnsUpstreams ? { upstreams: opts.dnsUpstreams.map((u) => parseHostPort(u)) } : {}) });
    if (opts.dnsListen) {
      const at = parseHostPort(opts.dnsListen);
      this.dns.listen(at).catch((err: unknown) => log.warn({ err, addr: opts.dnsListen }, 'dns: cannot listen'));
    }
  }

  /** Overlays on this node from now on (docker runtime, daemon as root). */
  useOverlay(o: Overlay): void {
    this.overlay = o;
  }

  /** For the docker runtime: a task's networks ready on this node before its container is created. */
  readonly taskNetworking = {
    prepare: async (needs: TaskNetworkNeeds): Promise<PreparedNetworks> => {
      if (!this.overlay) return { networks: new Map() };
      const prepared = await this.overlay.prepare(needs.attachments, needs.publishesHostPorts);
      const nameserver = await this.nameserverFor(needs.attachments);
      if (!nameserver) return prepared;
      this.setTaskUpstreams(needs);
      return { ...prepared, nameserver };
    },
    adopted: (needs: TaskNetworkNeeds): void => {
      if (this.overlay) this.setTaskUpstreams(needs);
    },
    started: (_containerId: string): void => {
      this.overlay?.containerStarted().catch((err: unknown) => this.log.warn({ err }, 'overlay: VIP rules'));
    },
    released: (attachments: NetworkAttachment[]): void => {
      for (const addr of taskAddresses(attachments)) this.dns.setClientUpstreams(addr, undefined);
    },
  };

  /**
   * Behind the node's DNS the task's own servers answer its non-swarm names (Docker's 127.0.0.11
   * forwards to them): set for every address of the task, or cleared (an address used before).
   */
  private setTaskUpstreams(needs: TaskNetworkNeeds): void {
    const ups = upstreamsOf(needs.dnsServers ?? []);
    for (const addr of taskAddresses(needs.attachments)) this.dns.setClientUpstreams(addr, ups);
  }

  /** Programs the view; resolves when the routing mesh applied it (the drain acknowledgement waits for that). */
  apply(view: NodeNetworkView): Promise<void> {
    this.dns.setRecords(view.names ?? []);
    // The overlay first: the mesh reaches docker tasks over `ingress` from this node's address there.
    if (this.overlay && view.networks) {
      // `ingress` is set up while the swarm publishes a port in ingress mode (nothing to reach before).
      const networks = view.networks.filter((n) => !n.ingress || view.ingress.length > 0);
      const text = JSON.stringify([networks, view.vips ?? []]);
      if (text !== this.lastOverlay) {
        this.lastOverlay = text;
        this.overlay.apply(networks, view.vips ?? []).then(
          () => this.syncNetworkDns(networks),
          (err: unknown) => this.log.warn({ err }, 'overlay: applying the network view failed'),
        );
      }
    }
    const tables: PublishedPortTable[] = view.ingress.map((e) => ({
      protocol: e.protocol,
      port: e.publishedPort,
      ...(e.proxyProtocol ? { proxyProtocol: e.proxyProtocol } : {}),
      backends: e.backends.map((b) => ({ id: b.taskId, host: b.host, port: b.port })),
    }));
    const text = JSON.stringify(tables);
    if (text === this.last) return this.meshApplied;
    this.last = text;
    this.meshApplied = this.mesh.apply(tables).then(
      () => {
        for (const s of this.mesh.status()) if (s.error) this.log.warn({ port: `${s.protocol}/${s.port}`, err: s.error }, 'routing mesh: cannot listen on a published port');
      },
      (err: unknown) => this.log.warn({ err }, 'routing mesh: applying the ingress table failed'),
    );
    return this.meshApplied;
  }

  /**
   * The node's DNS server answers each user overlay network's names on this node's address there
   * (port 53): task containers use it as their nameserver, as Docker's use 127.0.0.11.
   */
  private syncNetworkDns(networks: { id: string; ingress: boolean; nodeAddr?: string }[]): void {
    const want = new Map(networks.filter((n) => !n.ingress && n.nodeAddr).map((n) => [n.id, addrOfCidr(n.nodeAddr!)]));
    for (const [id, cur] of this.netDns) {
      if (want.get(id) === cur.addr) continue;
      this.netDns.delete(id);
      void cur.listener.then((l) => l?.close());
    }
    for (const [id, addr] of want) {
      if (this.netDns.has(id)) continue;
      const listener = this.dns.listen({ host: addr, port: 53, scope: [id] }).catch((err: unknown) => {
        this.log.warn({ err, addr, network: id }, 'dns: cannot listen on the node address of a network');
        return undefined;
      });
      this.netDns.set(id, { addr, listener });
    }
  }

  /**
   * The nameserver for a task's container: this node's DNS address on its first user network. The
   * view naming that address may arrive just after the assignment: wait for it, bounded (2 s).
   */
  private async nameserverFor(attachments: NetworkAttachment[]): Promise<string | undefined> {
    const first = attachments.find((a) => !a.Network.Spec.Ingress);
    if (!first || !this.overlay) return undefined;
    for (let i = 0; i < 40; i++) {
      const entry = this.netDns.get(first.Network.ID);
      if (entry && (await entry.listener)) return entry.addr;
      await new Promise((r) => setTimeout(r, 50));
    }
    this.log.warn({ network: first.Network.Spec.Name }, 'dns: no node address on the network yet; the container uses the engine\'s resolvers');
    return undefined;
  }

  /** Stops answering published ports (the node left the swarm or the daemon stops). */
  /** The routing mesh's published ports and their counters (metrics read them at scrape time). */
  meshStatus(): MeshPortStatus[] {
    return this.mesh.status();
  }

  async close(): Promise<void> {
    this.last = '';
    this.lastOverlay = '';
    this.overlay?.close();
    this.netDns.clear();
    await Promise.all([this.mesh.close(), this.dns.close()]);
  }
}

/** A task's own addresses on its user networks (the source of its DNS queries to the node). */
function taskAddresses(attachments: NetworkAttachment[]): string[] {
  return attachments.filter((a) => !a.Network.Spec.Ingress).flatMap((a) => a.Addresses.map(addrOfCidr));
}

/** `--dns` servers as upstreams (port 53 unless given); one that is not an address is left out. */
function upstreamsOf(servers: string[]): Upstream[] | undefined {
  const out: Upstream[] = [];
  for (const s of servers) {
    try {
      out.push(parseHostPort(s, 53));
    } catch {
      /* not an address: the CLI and API refuse these before they get here */
    }
  }
  return out.length ? out : undefined;
}
