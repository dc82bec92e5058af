import { failedPrecondition, invalidArgument } from '../../../lib/errors';
import { contains, formatCidr, formatIp, nextSubnet, overlaps, parseCidr, parseIp, type Cidr } from '../../../lib/ipam';
import type { Network, NetworkCreateRequest, NetworkSpec, Service, Task } from '../../../types';
import { INGRESS_NETWORK_NAME, OVERLAY_VNI_OPTION, isRunnable, isTerminal, serviceNetworkTargets } from '../../../types';
import { grpcText, validateName } from './validate';

// Swarm network objects: what `docker network create -d overlay` and `swarm init` make, with
// swarmkit's checks and texts. Subnets and VXLAN IDs are chosen here, inside the create transaction,
// from what the store already holds, so a network never exists without them.

/** Docker's first VXLAN ID for overlay networks (ingress takes it at `swarm init`). */
export const FIRST_VNI = 4096;
export const MAX_VNI = 2 ** 24 - 1;
const PREDEFINED_LABEL = 'com.docker.swarm.predefined';

const invalid = (desc: string) => invalidArgument(grpcText('InvalidArgument', desc));

/** swarmkit's validateIPAMConfiguration. */
function validateIpamConfig(c: { Subnet?: string; IPRange?: string; Gateway?: string }): void {
  if (!c.Subnet && !c.IPRange && !c.Gateway) throw invalid('ipam configuration: cannot be empty');
  const subnet = c.Subnet ? parseCidr(c.Subnet) : undefined;
  if (c.Subnet && !subnet) throw invalid(`ipam configuration: invalid subnet ${c.Subnet}`);
  if (c.IPRange) {
    const r = parseCidr(c.IPRange);
    if (!r) throw invalid(`ipam configuration: invalid range ${c.IPRange}`);
    if (subnet && !(contains(subnet, r.base) && r.bits >= subnet.bits)) throw invalid(`ipam configuration: subnet ${c.Subnet} does not contain range ${c.IPRange}`);
  }
  if (c.Gateway) {
    const g = parseIp(c.Gateway);
    if (g === undefined) throw invalid(`ipam configuration: invalid gateway ${c.Gateway}`);
    if (subnet && !contains(subnet, g)) throw invalid(`ipam configuration: subnet ${c.Subnet} does not contain gateway ${c.Gateway}`);
  }
}

export function validateNetworkCreate(req: NetworkCreateRequest): void {
  validateName(req.Name);
  if (req.Attachable && req.Ingress) throw invalid('ingress network cannot be attachable');
  if (req.Labels && PREDEFINED_LABEL in req.Labels) {
    throw invalidArgument(grpcText('PermissionDenied', `label ${PREDEFINED_LABEL} is for internally created predefined networks and cannot be applied by users`));
  }
  if (req.EnableIPv6) throw invalid('IPv6 is not supported on swarm networks of this cluster (this kernel path is IPv4 only)');
  if (req.IPAM?.Driver && req.IPAM.Driver !== 'default') throw invalid(`invalid ipam driver ${req.IPAM.Driver}: only the default driver is supported`);
  for (const c of req.IPAM?.Config ?? []) validateIpamConfig(c);
}

export interface NetworkContext {
  id: string;
  now: string;
  /** The networks the store holds now. */
  existing: Network[];
  /** The cluster's default address pools and subnet size (`swarm init --default-addr-pool…`). */
  pools: string[];
  subnetSize: number;
}

/** The subnets the swarm's networks hold. */
export function takenSubnets(networks: Network[]): Cidr[] {
  return networks.flatMap((n) => (n.IPAMOptions.Configs ?? []).map((c) => parseCidr(c.Subnet)).filter((c): c is Cidr => !!c));
}

export function vniOf(n: Network): number {
  return n.internal?.vni ?? Number(n.DriverState.Options[OVERLAY_VNI_OPTION] ?? 0);
}

function nextVni(existing: Network[]): number {
  const used = new Set(existing.map(vniOf));
  for (let v = FIRST_VNI; v <= MAX_VNI; v++) if (!used.has(v)) return v;
  throw failedPrecondition(grpcText('ResourceExhausted', 'no VXLAN ID left for a new overlay network'));
}

/** A new swarm network with its subnets and VXLAN ID; refuses a subnet that overlaps one in use. */
export function buildNetwork(req: NetworkCreateRequest, ctx: NetworkContext): Network {
  const taken = takenSubnets(ctx.existing);
  const configs: { Subnet: string; Range?: string; Gateway: string }[] = [];
  for (const c of req.IPAM?.Config?.length ? req.IPAM.Config : [{}]) {
    let subnet: Cidr | undefined;
    if (c.Subnet) {
      subnet = parseCidr(c.Subnet)!;
      const clash = taken.find((t) => overlaps(t, subnet!));
      if (clash) throw invalidArgument(`invalid pool request: Pool overlaps with other one on this address space (${formatCidr(subnet)} overlaps ${formatCidr(clash)})`);
    } else {
      const pools = ctx.pools.map((p) => parseCidr(p)).filter((p): p is Cidr => !!p);
      subnet = nextSubnet(pools, ctx.subnetSize, taken);
      if (!subnet) throw failedPrecondition('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
    }
    taken.push(subnet);
    const gateway = c.Gateway ?? formatIp(subnet.base + 1);
    configs.push({ Subnet: formatCidr(subnet), ...(c.IPRange ? { Range: c.IPRange } : {}), Gateway: gateway });
  }
  const vni = nextVni(ctx.existing);
  const spec: NetworkSpec = {
    Name: req.Name,
    Labels: req.Labels ?? {},
    DriverConfiguration: { Name: 'overlay', ...(req.Options && Object.keys(req.Options).length ? { Options: req.Options } : {}) },
    ...(req.Internal ? { Internal: true } : {}),
    ...(req.Attachable ? { Attachable: true } : {}),
    ...(req.Ingress ? { Ingress: true } : {}),
    IPAMOptions: { Driver: { Name: 'default', ...(req.IPAM?.Options ? { Options: req.IPAM.Options } : {}) }, ...(req.IPAM?.Config?.length ? { Configs: configs } : {}) },
    Scope: 'swarm',
  };
  return {
    ID: ctx.id,
    Version: { Index: 0 },
    CreatedAt: ctx.now,
    UpdatedAt: ctx.now,
    Spec: spec,
    DriverState: { Name: 'overlay', Options: { ...(req.Options ?? {}), [OVERLAY_VNI_OPTION]: String(vni) } },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: configs },
    internal: { vni, nodeAddrs: {} },
  };
}

/** The `ingress` network `swarm init` creates: 10.0.0.0/24 from the default pool, as Docker's. */
export function ingressNetwork(ctx: Omit<NetworkContext, 'existing'>): Network {
  const n = buildNetwork({ Name: INGRESS_NETWORK_NAME, Ingress: true }, { ...ctx, existing: [] });
  n.Spec.Labels = {};
  return n;
}

/** swarmkit's checks before a network is removed, with its texts. */
/** Refuses removing `n` while it is predefined or in use; `services` must be every service. */
export function checkNetworkRemovable(n: Network, services: Service[], tasks: Task[]): void {
  if (n.Spec.Labels?.[PREDEFINED_LABEL]) {
    throw failedPrecondition(grpcText('FailedPrecondition', `network ${n.Spec.Name} (${n.ID}) is a swarm predefined network and cannot be removed`));
  }
  if (n.Spec.Ingress) {
    const user = services.find((s) => (s.Spec.EndpointSpec?.Ports ?? []).some((p) => (p.PublishMode ?? 'ingress') === 'ingress'));
    if (user) throw failedPrecondition(grpcText('FailedPrecondition', `ingress network cannot be removed because service ${user.ID} depends on it`));
    return;
  }
  const svc = services.find((s) => serviceNetworkTargets(s.Spec).includes(n.ID));
  if (svc) throw failedPrecondition(grpcText('FailedPrecondition', `network ${n.ID} is in use by service ${svc.ID}`));
  // As swarmkit: only a task still wanted (desired ≤ running) and not yet ended holds the network.
  // A task of a removed service does not, whether the orchestrator has marked it desired `remove`
  // yet or not (`services` is every service): `docker stack rm` removes the networks right after
  // the services, before the orchestrator's next pass.
  const live = new Set(services.map((s) => s.ID));
  const task = tasks.find(
    (t) => live.has(t.ServiceID) && isRunnable(t.DesiredState) && !isTerminal(t.Status.State) && (t.NetworksAttachments ?? []).some((a) => a.Network.ID === n.ID),
  );
  if (task) throw failedPrecondition(grpcText('FailedPrecondition', `network ${n.ID} is in use by task ${task.ID}`));
}
