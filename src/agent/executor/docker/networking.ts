import { addrOfCidr } from '../../../lib/ipam';
import type { NetworkAttachment } from '../../../types';

/**
 * What the docker runtime needs from the node's network layer (src/network/overlay, wired in
 * src/node): a task's swarm networks made ready on this node before its container is created, word
 * when a container started (its VIP rules are loaded into its namespace), and when it is gone.
 */
export interface TaskNetworking {
  prepare(needs: TaskNetworkNeeds): Promise<PreparedNetworks>;
  started(containerId: string): void;
  /** The task's container was removed: what was set up for its addresses (its DNS upstreams) goes. */
  released(attachments: NetworkAttachment[]): void;
  /** A container found running (a restarted daemon adopts it): what `prepare` set up for its addresses again. */
  adopted(needs: TaskNetworkNeeds): void;
}

/** What one task's container asks of the node's network layer. */
export interface TaskNetworkNeeds {
  attachments: NetworkAttachment[];
  /**
   * The container publishes host-mode ports: it joins the egress network (`docker_gwbridge`), where
   * the engine publishes them, even without swarm networks (Docker's swarm does the same).
   */
  publishesHostPorts: boolean;
  /** The task's own DNS servers (`--dns`): behind the node's DNS, the upstreams of its queries. */
  dnsServers?: string[];
}

export interface PreparedNetworks {
  /** Network ID → the engine network to attach the container to. */
  networks: Map<string, string>;
  /** The engine network that gives the container its way out (Docker's `docker_gwbridge`), joined last. */
  egress?: string;
  /** Where the node's DNS server answers the task's first user network's names. */
  nameserver?: string;
}

/** One engine network a task's container joins, at its allocated address. */
export interface ContainerEndpoint {
  network: string;
  ipv4?: string;
}

/**
 * The container's endpoints: each attachment's engine network and address (without prefix length),
 * then the egress network when the network layer gave one (a task on swarm networks or with host-mode ports).
 */
export function containerEndpoints(attachments: NetworkAttachment[], prepared: PreparedNetworks): ContainerEndpoint[] {
  const out: ContainerEndpoint[] = [];
  for (const a of attachments) {
    const network = prepared.networks.get(a.Network.ID);
    if (!network) continue;
    const cidr = a.Addresses[0];
    const ip = cidr && addrOfCidr(cidr);
    out.push(ip ? { network, ipv4: ip } : { network });
  }
  if (prepared.egress) out.push({ network: prepared.egress });
  return out;
}
