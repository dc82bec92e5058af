import { addrOfCidr } from '../../../lib/ipam';
import type { IngressBackend, IngressEntry, Node, Service, Task } from '../../../types';
import { PROXY_PROTOCOL_LABEL } from '../../../types';

// The routing mesh's table: for every port published in ingress mode, the tasks that may take a new
// connection now. Every node gets the same table; it changes only when readiness or ports change.

/**
 * Ready for new connections: wanted running, running, on a node that is up, and healthy where the
 * service has a health check. A task leaves the table as soon as the orchestrator asks it to stop
 * (desired state changes before the agent is told), which is what lets a rolling update or a drain
 * lose no request.
 */
export function isReadyBackend(t: Task, node: Node | undefined): boolean {
  if (t.DesiredState !== 'running' || t.Status.State !== 'running') return false;
  if (!node || node.Status.State === 'down' || node.Spec.Availability === 'drain') return false;
  const h = t.internal.health;
  return h === undefined || h === 'healthy';
}

/** The facts of a node the network views read: its address, whether it is down, whether it is drained. */
function nodeViewFacts(n: Node): string {
  return `${n.Status.Addr ?? ''}|${n.Status.State === 'down'}|${n.Spec.Availability === 'drain'}`;
}

/**
 * Whether a node's change can change any network view (the peers, backends and names above read
 * only `nodeViewFacts`): a new or removed node does; a node that goes Unknown and Ready again
 * (every node after a leader change, a heartbeat's description update) does not, so 1,000
 * reconnecting nodes recompute nothing.
 */
export function nodeChangeMatters(old: Node | undefined, now: Node | undefined): boolean {
  if (!old || !now) return true;
  return nodeViewFacts(old) !== nodeViewFacts(now);
}

function proxyProtocolOf(s: Service): IngressEntry['proxyProtocol'] {
  const v = s.Spec.Labels?.[PROXY_PROTOCOL_LABEL];
  return v === 'v1' || v === 'v2' ? v : undefined;
}

/**
 * Where a ready task is reached for a published port: a port of its node it was given for that
 * target port (process runtime), else its own address on `ingress` and the target port (docker runtime: every node reaches
 * it over the ingress overlay); undefined when it has neither.
 */
export function backendOf(t: Task, node: Node, protocol: 'tcp' | 'udp', targetPort: number): IngressBackend | undefined {
  const ep = t.internal.endpoints?.find((e) => e.Protocol === protocol && e.TargetPort === targetPort);
  if (ep && node.Status.Addr) return { taskId: t.ID, host: node.Status.Addr, port: ep.Port };
  const addr = t.NetworksAttachments?.find((a) => a.Network.Spec.Ingress)?.Addresses[0];
  // A process task reports a node port for every port it was started with; a docker task only its
  // host-mode bindings, which say nothing about how its ingress ports are reached.
  const host = new Set((t.internal.ports ?? []).filter((p) => p.PublishMode === 'host').map((p) => `${p.Protocol ?? 'tcp'}/${p.TargetPort}`));
  const nodePorts = (t.internal.endpoints ?? []).some((e) => !host.has(`${e.Protocol}/${e.TargetPort}`));
  if (!nodePorts && addr) return { taskId: t.ID, host: addrOfCidr(addr), port: targetPort };
  return undefined;
}

export function ingressTable(services: Service[], tasksOf: (serviceId: string) => Task[], nodes: Map<string, Node>): IngressEntry[] {
  const out: IngressEntry[] = [];
  for (const s of services) {
    const ports = (s.Endpoint?.Ports ?? []).filter((p) => (p.PublishMode ?? 'ingress') === 'ingress' && p.PublishedPort && p.TargetPort);
    if (ports.length === 0) continue;
    const ready = tasksOf(s.ID).filter((t) => isReadyBackend(t, nodes.get(t.NodeID ?? '')));
    for (const p of ports) {
      const protocol = p.Protocol === 'udp' ? 'udp' : 'tcp';
      const backends = ready
        .map((t) => backendOf(t, nodes.get(t.NodeID!)!, protocol, p.TargetPort!))
        .filter((b): b is IngressBackend => !!b)
        .sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
      const e: IngressEntry = { serviceId: s.ID, serviceName: s.Spec.Name, protocol, publishedPort: p.PublishedPort!, targetPort: p.TargetPort!, backends };
      const pp = proxyProtocolOf(s);
      if (pp) e.proxyProtocol = pp;
      out.push(e);
    }
  }
  return out.sort((a, b) => a.publishedPort - b.publishedPort || a.protocol.localeCompare(b.protocol));
}
