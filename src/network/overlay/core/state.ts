import type { NetworkAttachment, NodeNetworkEntry } from '../../../types';
import { OVERLAY_ENCRYPTED_OPTION, OVERLAY_VNI_OPTION } from '../../../types';
import { deviceNames, idOfDevice, ZERO_MAC, type LinkState } from './plan';

// Reading what the kernel has (the JSON of `ip -d -j addr show` and `bridge -j fdb show`) into the
// plan's terms, and a network entry from a task's attachment (before the node's view names it).

interface IpLinkJson {
  ifname: string;
  ifalias?: string;
  mtu?: number;
  flags?: string[];
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number } };
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

interface FdbJson {
  mac?: string;
  ifname?: string;
  dev?: string;
  dst?: string;
}

/** Shoal's devices by the 8-character network ID part of their names. */
export function readLinkStates(addrJson: unknown, fdbJson: unknown): Map<string, LinkState> {
  const out = new Map<string, LinkState>();
  const get = (id: string) => {
    let s = out.get(id);
    if (!s) out.set(id, (s = { fdb: [] }));
    return s;
  };
  for (const l of (Array.isArray(addrJson) ? addrJson : []) as IpLinkJson[]) {
    const id = idOfDevice(l.ifname ?? '', l.ifalias);
    if (!id) continue;
    const up = (l.flags ?? []).includes('UP');
    const mtu = l.mtu ?? 0;
    const kind = l.linkinfo?.info_kind;
    if (kind === 'bridge' && l.ifname === deviceNames(id).bridge) {
      const addrs = (l.addr_info ?? []).filter((a) => a.family === 'inet' && a.local).map((a) => `${a.local}/${a.prefixlen}`);
      get(id).bridge = { mtu, up, addrs };
    } else if (kind === 'vxlan' && l.ifname === deviceNames(id).vxlan) {
      const d = l.linkinfo?.info_data ?? {};
      const v: NonNullable<LinkState['vxlan']> = { vni: d.id ?? 0, mtu, up };
      if (d.local) v.local = d.local;
      if (d.port !== undefined) v.port = d.port;
      if (l.master) v.master = l.master;
      get(id).vxlan = v;
    }
  }
  for (const f of (Array.isArray(fdbJson) ? fdbJson : []) as FdbJson[]) {
    const dev = f.ifname ?? f.dev ?? '';
    if (f.mac !== ZERO_MAC || !f.dst) continue;
    const id = dev.slice(3);
    const s = out.get(id);
    if (s?.vxlan && dev === deviceNames(id).vxlan) s.fdb.push(f.dst);
  }
  return out;
}

/** A network as a task's attachment describes it: enough to create its devices before the view has it. */
export function entryOfAttachment(a: NetworkAttachment): NodeNetworkEntry | undefined {
  const n = a.Network;
  const cfg = n.IPAMOptions?.Configs?.[0];
  const vni = Number(n.DriverState?.Options?.[OVERLAY_VNI_OPTION] ?? 0);
  if (!cfg || !vni) return undefined;
  return {
    id: n.ID,
    name: n.Spec.Name,
    subnet: cfg.Subnet,
    gateway: cfg.Gateway,
    vni,
    ingress: !!n.Spec.Ingress,
    encrypted: OVERLAY_ENCRYPTED_OPTION in (n.Spec.DriverConfiguration?.Options ?? {}),
    peers: [],
  };
}
