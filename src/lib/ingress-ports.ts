import type { PortConfig } from '../types';

// The cluster-wide space of ports published in ingress mode: one owner per (protocol, port). Ports a
// service names are checked by the control API (swarmkit's texts); ports it leaves out are taken here
// from Docker's dynamic range.

export const DYNAMIC_PORT_START = 30000;
export const DYNAMIC_PORT_END = 32767;

export type Protocol = NonNullable<PortConfig['Protocol']>;

export const portKey = (protocol: Protocol | undefined, port: number): string => `${protocol ?? 'tcp'}/${port}`;

export const isIngress = (p: PortConfig): boolean => (p.PublishMode ?? 'ingress') === 'ingress';

export class IngressPorts {
  private readonly owner = new Map<string, string>();
  private cursor = DYNAMIC_PORT_START;

  ownerOf(protocol: Protocol | undefined, port: number): string | undefined {
    return this.owner.get(portKey(protocol, port));
  }

  /** Takes a port for a service; false when another service has it. */
  reserve(protocol: Protocol | undefined, port: number, serviceId: string): boolean {
    const k = portKey(protocol, port);
    const cur = this.owner.get(k);
    if (cur !== undefined && cur !== serviceId) return false;
    this.owner.set(k, serviceId);
    return true;
  }

  release(protocol: Protocol | undefined, port: number, serviceId: string): void {
    const k = portKey(protocol, port);
    if (this.owner.get(k) === serviceId) this.owner.delete(k);
  }

  /** A free port of the dynamic range for this protocol (serially, wrapping), taken for the service. */
  allocateDynamic(protocol: Protocol | undefined, serviceId: string): number | undefined {
    const n = DYNAMIC_PORT_END - DYNAMIC_PORT_START + 1;
    for (let i = 0; i < n; i++) {
      const port = DYNAMIC_PORT_START + ((this.cursor - DYNAMIC_PORT_START + i) % n);
      if (this.owner.has(portKey(protocol, port))) continue;
      this.owner.set(portKey(protocol, port), serviceId);
      this.cursor = port + 1 > DYNAMIC_PORT_END ? DYNAMIC_PORT_START : port + 1;
      return port;
    }
    return undefined;
  }

  /** Every (key, owner) pair: for the property tests' comparison of live and rebuilt state. */
  entries(): [string, string][] {
    return [...this.owner.entries()].sort();
  }
}
