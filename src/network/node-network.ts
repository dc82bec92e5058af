import type { Logger } from 'pino';
import type { NodeNetworkView } from '../types';
import { DnsServer, parseHostPort } from './dns';
import { RoutingMesh, type PublishedPortTable } from './mesh';

/**
 * A node's network layer: programs what the dispatcher's network view asks for. Today that is the
 * routing mesh (every ingress-published port answered on this node) and the names its DNS server
 * answers; overlays join here.
 */
export class NodeNetwork {
  private readonly mesh: RoutingMesh;
  private last = '';
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

  apply(view: NodeNetworkView): void {
    this.dns.setRecords(view.names ?? []);
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
    await Promise.all([this.mesh.close(), this.dns.close()]);
  }
}
