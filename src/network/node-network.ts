import type { Logger } from 'pino';
import type { NetworkAttachment, NodeNetworkView } from '../types';
import { DnsServer, parseHostPort } from './dns';
import { RoutingMesh, type PublishedPortTable } from './mesh';
import type { Overlay, PreparedNetworks } from './overlay';

/**
 * A node's network layer: programs what the dispatcher's network view asks for: the routing mesh
 * (every ingress-published port answered on this node) and, on the docker runtime as root, the
 * overlays (a bridge and a VXLAN device per network, the task containers' VIP rules), and the names
 * its embedded DNS server answers (`view.names`; docs/design/dns.md).
 */
export class NodeNetwork {
  private readonly mesh: RoutingMesh;
  private last = '';
  private lastOverlay = '';
  private overlay?: Overlay;
  /** The embedded DNS server (docs/design/dns.md); `dns.listen` serves a network's names on an address. */
  readonly dns: DnsServer;

  constructor(
    private readonly log: Logger,
    opts: { meshBindHost?: string; dnsListen?: string; dnsUpstreams?: string[] } = {},
  ) {
    this.mesh = new RoutingMesh({ bindHost: opts.meshBindHost ?? '0.0.0.0', logger: log.child({ component: 'mesh' }) });
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
    prepare: (attachments: NetworkAttachment[]): Promise<PreparedNetworks> => {
      if (!this.overlay) return Promise.resolve({ networks: new Map() });
      return this.overlay.prepare(attachments);
    },
    started: (_containerId: string): void => {
      this.overlay?.containerStarted().catch((err: unknown) => this.log.warn({ err }, 'overlay: VIP rules'));
    },
  };

  apply(view: NodeNetworkView): void {
    this.dns.setRecords(view.names ?? []);
    // The overlay first: the mesh reaches docker tasks over `ingress` from this node's address there.
    if (this.overlay && view.networks) {
      // `ingress` is set up while the swarm publishes a port in ingress mode (nothing to reach before).
      const networks = view.networks.filter((n) => !n.ingress || view.ingress.length > 0);
      const text = JSON.stringify([networks, view.vips ?? []]);
      if (text !== this.lastOverlay) {
        this.lastOverlay = text;
        this.overlay.apply(networks, view.vips ?? []).catch((err: unknown) => this.log.warn({ err }, 'overlay: applying the network view failed'));
      }
    }
    const tables: PublishedPortTable[] = view.ingress.map((e) => ({
      protocol: e.protocol,
      port: e.publishedPort,
      ...(e.proxyProtocol ? { proxyProtocol: e.proxyProtocol } : {}),
      backends: e.backends.map((b) => ({ id: b.taskId, host: b.host, port: b.port })),
    }));
    const text = JSON.stringify(tables);
    if (text === this.last) return;
    this.last = text;
    this.mesh.apply(tables).then(
      () => {
        for (const s of this.mesh.status()) if (s.error) this.log.warn({ port: `${s.protocol}/${s.port}`, err: s.error }, 'routing mesh: cannot listen on a published port');
      },
      (err: unknown) => this.log.warn({ err }, 'routing mesh: applying the ingress table failed'),
    );
  }

  /** Stops answering published ports (the node left the swarm or the daemon stops). */
  async close(): Promise<void> {
    this.last = '';
    this.lastOverlay = '';
    this.overlay?.close();
    await Promise.all([this.mesh.close(), this.dns.close()]);
  }
}
