import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Network, PortConfig, Service, Task } from '../../../types';
import { buildNetwork, ingressNetwork } from '../../controlapi/core/networks';
import { needsAllocation, validateServiceSpec } from '../../../types';
import { taskFixture } from '../../../testing/fixtures';
import { AllocationState, holdsAddresses } from './state';

// The allocator's state against the store it is derived from: after any sequence of service and
// task changes, the live state equals a rebuild from the store, and no address or ingress port is
// held twice.

const ctx = { now: '', pools: ['10.0.0.0/8'], subnetSize: 24 };

function service(id: string, ports: PortConfig[], networks: string[], mode: 'vip' | 'dnsrr' = 'vip'): Service {
  return {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: id, TaskTemplate: { ContainerSpec: { Image: 'x' }, Networks: networks.map((Target) => ({ Target })) }, Mode: { Replicated: { Replicas: 1 } }, EndpointSpec: { Mode: mode, Ports: ports } },
    Endpoint: { Spec: { Mode: mode, Ports: ports } },
    internal: { specVersion: 1 },
  };
}

type Op =
  | { op: 'create'; ports: PortConfig[]; nets: boolean[]; dnsrr: boolean }
  | { op: 'update'; which: number; ports: PortConfig[] }
  | { op: 'remove'; which: number }
  | { op: 'task'; which: number }
  | { op: 'stop'; which: number }
  | { op: 'deleteTask'; which: number }
  | { op: 'place'; which: number; node: number };

const portArb = fc.record({
  Protocol: fc.constantFrom<'tcp' | 'udp'>('tcp', 'udp'),
  TargetPort: fc.integer({ min: 1, max: 5 }),
  PublishedPort: fc.option(fc.integer({ min: 8080, max: 8083 }), { nil: undefined }),
  PublishMode: fc.constantFrom<'ingress' | 'host'>('ingress', 'ingress', 'host'),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('create' as const), ports: fc.array(portArb, { maxLength: 3 }), nets: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }), dnsrr: fc.boolean() }),
  fc.record({ op: fc.constant('update' as const), which: fc.nat(), ports: fc.array(portArb, { maxLength: 3 }) }),
  fc.record({ op: fc.constant('remove' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('task' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('task' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('stop' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('deleteTask' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('place' as const), which: fc.nat(), node: fc.integer({ min: 1, max: 3 }) }),
);

function checkNoDoubles(networks: Network[], services: Service[], tasks: Task[]): void {
  const seen = new Set<string>();
  const claim = (net: string, addr: string, who: string) => {
    const k = `${net}/${addr.split('/')[0]}`;
    assert.ok(!seen.has(k), `${k} handed out twice (${who})`);
    seen.add(k);
  };
  for (const n of networks) for (const [node, a] of Object.entries(n.internal.nodeAddrs)) claim(n.ID, a, `node ${node}`);
  for (const s of services) for (const v of s.Endpoint.VirtualIPs ?? []) claim(v.NetworkID, v.Addr, `vip of ${s.ID}`);
  for (const t of tasks.filter(holdsAddresses)) for (const a of t.NetworksAttachments ?? []) for (const x of a.Addresses) claim(a.Network.ID, x, `task ${t.ID}`);
  const ports = new Set<string>();
  for (const s of services) {
    for (const p of s.Endpoint.Ports ?? []) {
      if (p.PublishMode !== 'ingress') continue;
      const k = `${p.Protocol}/${p.PublishedPort}`;
      assert.ok(!ports.has(k), `ingress port ${k} held twice`);
      ports.add(k);
    }
  }
}

test('allocator state: live equals rebuilt from the store, nothing handed out twice', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
      const ingress = ingressNetwork({ ...ctx, id: 'ingress' });
      // Small subnets so that exhaustion and reuse happen.
      const netA = buildNetwork({ Name: 'a', IPAM: { Config: [{ Subnet: '10.9.0.0/29' }] } }, { ...ctx, id: 'neta', existing: [ingress] });
      const netB = buildNetwork({ Name: 'b' }, { ...ctx, id: 'netb', existing: [ingress, netA] });
      const networks = [ingress, netA, netB];
      const byId = new Map(networks.map((n) => [n.ID, n]));
      const services: Service[] = [];
      let tasks: Task[] = [];
      const live = AllocationState.build({ networks, services, tasks });
      const nodeIds = ['n1', 'n2', 'n3'];
      ingress.internal.nodeAddrs = live.nodeAddresses(ingress, nodeIds);
      let n = 0;
      for (const o of ops) {
        const ports = 'ports' in o ? o.ports : [];
        try {
          validateServiceSpec({ ...service('v', [], []).Spec, EndpointSpec: { Mode: o.op === 'create' && o.dnsrr ? 'dnsrr' : 'vip', Ports: ports } });
        } catch {
          continue; // the control API refuses it
        }
        if (o.op === 'create') {
          const s = service(`s${n++}`, o.ports, [netA.ID, netB.ID].filter((_, i) => o.nets[i]), o.dnsrr ? 'dnsrr' : 'vip');
          // The control API refuses ports other services hold (checkPortConflicts); model that here.
          if (o.ports.some((p) => p.PublishedPort && services.some((x) => (x.Endpoint.Ports ?? []).some((q) => q.PublishedPort === p.PublishedPort && q.Protocol === p.Protocol)))) continue;
          s.Endpoint = { Spec: s.Spec.EndpointSpec! };
          const ep = live.serviceEndpoint(s, byId);
          if (!ep) continue;
          s.Endpoint = ep;
          services.push(s);
        } else if (o.op === 'update' && services.length) {
          const s = services[o.which % services.length]!;
          if (o.ports.some((p) => p.PublishedPort && services.some((x) => x !== s && (x.Endpoint.Ports ?? []).some((q) => q.PublishedPort === p.PublishedPort && q.Protocol === p.Protocol)))) continue;
          const next = { ...s, Spec: { ...s.Spec, EndpointSpec: { ...s.Spec.EndpointSpec, Ports: o.ports } } };
          const ep = live.serviceEndpoint(next, byId);
          if (!ep) continue;
          services[services.indexOf(s)] = { ...next, Endpoint: ep };
        } else if (o.op === 'remove' && services.length) {
          const s = services.splice(o.which % services.length, 1)[0]!;
          live.releaseService(s);
        } else if (o.op === 'task' && services.length) {
          const s = services[o.which % services.length]!;
          const t = taskFixture({ ID: `t${n++}`, ServiceID: s.ID });
          const att = live.taskAttachments(t, s, byId);
          if (!att) continue;
          t.NetworksAttachments = att;
          t.Status = { ...t.Status, State: 'running' };
          tasks.push(t);
        } else if (o.op === 'stop') {
          const running = tasks.filter(holdsAddresses);
          if (!running.length) continue;
          const t = running[o.which % running.length]!;
          t.Status = { ...t.Status, State: 'shutdown' };
          live.releaseTask(t);
        } else if (o.op === 'deleteTask' && tasks.length) {
          const t = tasks[o.which % tasks.length]!;
          tasks = tasks.filter((x) => x !== t);
          if (holdsAddresses(t)) live.releaseTask(t);
        } else if (o.op === 'place' && tasks.length) {
          tasks[o.which % tasks.length]!.NodeID = `n${o.node}`;
        }
        // What the loop does after each batch: node addresses follow the tasks' nodes.
        for (const u of live.nodeAddressUpdates(networks, nodeIds, () => tasks)) {
          const i = networks.findIndex((x) => x.ID === u.ID);
          networks[i] = u;
          byId.set(u.ID, u);
        }
        for (const net of networks) {
          const held = Object.keys(net.internal.nodeAddrs).sort();
          const on = [...new Set(tasks.filter((t) => holdsAddresses(t) && t.NodeID && t.NetworksAttachments?.some((a) => a.Network.ID === net.ID)).map((t) => t.NodeID!))].sort();
          if (net.Spec.Ingress) assert.deepEqual(held, nodeIds);
          // every held one is for a node with a task there; a node may wait for an address when none is left
          else assert.ok(held.every((id) => on.includes(id)), `${net.ID}: addresses for ${held} but tasks on ${on}`);
          if (!net.Spec.Ingress && held.length < on.length) assert.equal(live.summary().addrs[net.ID]!.length, 5, `${net.ID}: a node waits only when the /29 is full`);
        }
        checkNoDoubles(networks, services, tasks);
        assert.deepEqual(live.summary(), AllocationState.build({ networks, services, tasks }).summary());
      }
    }),
    { seed: 4242, numRuns: 300 },
  );
});

test('a dynamic port is kept across updates, an explicit one released when dropped', () => {
  const ingress = ingressNetwork({ ...ctx, id: 'ingress' });
  const byId = new Map([[ingress.ID, ingress]]);
  const st = AllocationState.build({ networks: [ingress], services: [], tasks: [] });
  const s = service('web', [{ Protocol: 'tcp', TargetPort: 80 }, { Protocol: 'tcp', TargetPort: 81, PublishedPort: 8080 }], []);
  s.Endpoint = st.serviceEndpoint(s, byId)!;
  assert.deepEqual(s.Endpoint.Ports!.map((p) => p.PublishedPort), [30000, 8080]);
  assert.equal(s.Endpoint.VirtualIPs![0]!.Addr, '10.0.0.2/24');
  const next = { ...s, Spec: { ...s.Spec, EndpointSpec: { Mode: 'vip' as const, Ports: [{ Protocol: 'tcp' as const, TargetPort: 80 }] } } };
  const ep = st.serviceEndpoint(next, byId)!;
  assert.deepEqual(ep.Ports!.map((p) => p.PublishedPort), [30000]);
  assert.equal(ep.VirtualIPs![0]!.Addr, '10.0.0.2/24', 'the VIP is kept');
  assert.equal(st.ports.ownerOf('tcp', 8080), undefined, '8080 is free again');
});

test('subnets: the next free /24 of the pool, overlaps refused', () => {
  const ingress = ingressNetwork({ ...ctx, id: 'i' });
  assert.equal(ingress.IPAMOptions.Configs![0]!.Subnet, '10.0.0.0/24');
  assert.equal(ingress.DriverState.Options['com.docker.network.driver.overlay.vxlanid_list'], '4096');
  const a = buildNetwork({ Name: 'a' }, { ...ctx, id: 'a', existing: [ingress] });
  assert.equal(a.IPAMOptions.Configs![0]!.Subnet, '10.0.1.0/24');
  assert.equal(a.IPAMOptions.Configs![0]!.Gateway, '10.0.1.1');
  assert.equal(a.internal.vni, 4097);
  const b = buildNetwork({ Name: 'b', IPAM: { Config: [{ Subnet: '10.0.2.0/23' }] } }, { ...ctx, id: 'b', existing: [ingress, a] });
  assert.equal(b.IPAMOptions.Configs![0]!.Subnet, '10.0.2.0/23');
  const c = buildNetwork({ Name: 'c' }, { ...ctx, id: 'c', existing: [ingress, a, b] });
  assert.equal(c.IPAMOptions.Configs![0]!.Subnet, '10.0.4.0/24', 'skips the /23');
  assert.throws(() => buildNetwork({ Name: 'd', IPAM: { Config: [{ Subnet: '10.0.1.128/25' }] } }, { ...ctx, id: 'd', existing: [ingress, a] }), /Pool overlaps/);
});

test('a service that does not need allocation (needsAllocation) gets nothing from the allocator: no attachment, no port', () => {
  // What lets the restart supervisor create such a service's tasks PENDING itself: the allocator would
  // have added nothing to them but the state.
  fc.assert(
    fc.property(fc.array(portArb, { maxLength: 2 }), fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }), fc.boolean(), (ports, nets, dnsrr) => {
      const ingress = ingressNetwork({ ...ctx, id: 'ingress' });
      const netA = buildNetwork({ Name: 'a' }, { ...ctx, id: 'neta', existing: [ingress] });
      const netB = buildNetwork({ Name: 'b' }, { ...ctx, id: 'netb', existing: [ingress, netA] });
      const byId = new Map([ingress, netA, netB].map((n) => [n.ID, n]));
      const state = AllocationState.build({ networks: [...byId.values()], services: [], tasks: [] });
      const s = service('s', ports, [netA.ID, netB.ID].filter((_, i) => nets[i]), dnsrr ? 'dnsrr' : 'vip');
      // the endpoint as the allocator makes it (not the fixture's copy of the spec)
      s.Endpoint = state.serviceEndpoint({ ...s, Endpoint: { Spec: {} } }, byId) ?? { Spec: {} };
      const attachments = state.taskAttachments(taskFixture({ ID: 't', ServiceID: 's' }), s, byId);
      const nothing = attachments !== undefined && attachments.length === 0 && !s.Endpoint?.Ports?.length;
      if (!needsAllocation(s)) assert.ok(nothing, JSON.stringify({ ports, nets, attachments }));
      else assert.ok(!nothing, 'needsAllocation is not needlessly conservative for an existing network or a port');
    }),
  );
});
