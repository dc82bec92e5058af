import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeNetworkEntry } from '../../../types';
import { engineNetworkSpec, linkPlan, teardownPlan, vipRuleset } from './plan';
import { entryOfAttachment, readLinkStates } from './state';

const entry: NodeNetworkEntry = {
  id: 'abcdefgh12345',
  name: 'app',
  subnet: '10.0.1.0/24',
  gateway: '10.0.1.1',
  vni: 4097,
  ingress: false,
  encrypted: false,
  nodeAddr: '10.0.1.3/24',
  peers: ['192.168.9.2', '192.168.9.3'],
};

test('link plan from nothing: bridge and VXLAN device (marked as Shoal\'s), node address, one FDB entry per peer', () => {
  assert.deepEqual(linkPlan(entry, '192.168.9.1', { fdb: [] }), [
    ['ip', 'link', 'add', 'shbabcdefgh', 'mtu', '1450', 'type', 'bridge'],
    ['ip', 'link', 'set', 'shbabcdefgh', 'alias', 'shoal-overlay:abcdefgh12345'],
    ['ip', 'link', 'add', 'shvabcdefgh', 'mtu', '1450', 'type', 'vxlan', 'id', '4097', 'local', '192.168.9.1', 'dstport', '4789'],
    ['ip', 'link', 'set', 'shvabcdefgh', 'alias', 'shoal-overlay:abcdefgh12345'],
    ['ip', 'link', 'set', 'shvabcdefgh', 'master', 'shbabcdefgh', 'mtu', '1450'],
    ['ip', 'link', 'set', 'shvabcdefgh', 'up'],
    ['ip', 'link', 'set', 'shbabcdefgh', 'up'],
    ['ip', 'addr', 'add', '10.0.1.3/24', 'dev', 'shbabcdefgh'],
    ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'shvabcdefgh', 'dst', '192.168.9.2'],
    ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'shvabcdefgh', 'dst', '192.168.9.3'],
  ]);
});

test('link plan on what is there: nothing when it matches; a peer gone and one new, the gateway taken off the bridge', () => {
  const have = {
    bridge: { mtu: 1450, up: true, addrs: ['10.0.1.3/24'] },
    vxlan: { vni: 4097, local: '192.168.9.1', port: 4789, master: 'shbabcdefgh', mtu: 1450, up: true },
    fdb: ['192.168.9.2', '192.168.9.3'],
  };
  assert.deepEqual(linkPlan(entry, '192.168.9.1', have), []);
  const changed = { ...have, bridge: { ...have.bridge, addrs: ['10.0.1.1/24', '10.0.1.3/24'] }, fdb: ['192.168.9.2', '192.168.9.4'] };
  assert.deepEqual(linkPlan(entry, '192.168.9.1', changed), [
    ['ip', 'addr', 'del', '10.0.1.1/24', 'dev', 'shbabcdefgh'],
    ['bridge', 'fdb', 'del', '00:00:00:00:00:00', 'dev', 'shvabcdefgh', 'dst', '192.168.9.4'],
    ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'shvabcdefgh', 'dst', '192.168.9.3'],
  ]);
  // from a task's attachment (no view yet): only additions
  assert.deepEqual(linkPlan({ ...entry, nodeAddr: undefined, peers: [] } as NodeNetworkEntry, '192.168.9.1', changed, false), []);
  // a VXLAN device of another VNI (the network was made again under the same ID prefix) is replaced
  const plan = linkPlan(entry, '192.168.9.1', { ...have, vxlan: { ...have.vxlan, vni: 5000 } });
  assert.deepEqual(plan[0], ['ip', 'link', 'del', 'shvabcdefgh']);
  assert.equal(plan.filter((c) => c[0] === 'bridge').length, 2, 'the new device gets every peer');
});

test('teardown: the VXLAN device, then the bridge', () => {
  assert.deepEqual(teardownPlan('abcdefgh12345', { bridge: true, vxlan: true }), [
    ['ip', 'link', 'del', 'shvabcdefgh'],
    ['ip', 'link', 'del', 'shbabcdefgh'],
  ]);
  assert.deepEqual(teardownPlan('abcdefgh12345', { bridge: false, vxlan: false }), []);
});

test('engine network: bridge driver on the overlay bridge, internal, no gateway address on the bridge', () => {
  const s = engineNetworkSpec(entry);
  assert.equal(s.Driver, 'bridge');
  assert.equal(s.Internal, true);
  assert.deepEqual(s.IPAM.Config, [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }]);
  assert.equal(s.Options['com.docker.network.bridge.name'], 'shbabcdefgh');
  assert.equal(s.Options['com.docker.network.bridge.inhibit_ipv4'], 'true');
  assert.equal(s.Options['com.docker.network.driver.mtu'], '1450');
  assert.equal(s.Labels['com.shoal.network.id'], entry.id);
});

test('VIP rules: one random-pick DNAT per VIP, a single backend directly, none: refused', () => {
  const r = vipRuleset([
    { networkId: 'n', serviceId: 'b', serviceName: 'b', vip: '10.0.1.9', backends: [] },
    { networkId: 'n', serviceId: 'a', serviceName: 'a', vip: '10.0.1.2', backends: ['10.0.1.5', '10.0.1.6', '10.0.1.7'] },
    { networkId: 'n', serviceId: 'c', serviceName: 'c', vip: '10.0.1.4', backends: ['10.0.1.8'] },
  ]);
  assert.equal(
    r,
    [
      'table ip shoal_vip {}',
      'delete table ip shoal_vip',
      'table ip shoal_vip {',
      '  chain vip {',
      '    type nat hook output priority -100; policy accept;',
      '    ip daddr 10.0.1.2 dnat to numgen random mod 3 map { 0 : 10.0.1.5, 1 : 10.0.1.6, 2 : 10.0.1.7 }',
      '    ip daddr 10.0.1.4 dnat to 10.0.1.8',
      '  }',
      '  chain none {',
      '    type filter hook output priority 0; policy accept;',
      '    ip daddr 10.0.1.9 reject',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
});

test('kernel state read from ip/bridge JSON: only devices marked as Shoal\'s count', () => {
  const links = [
    { ifname: 'shbabcdefgh', ifalias: 'shoal-overlay:abcdefgh12345', mtu: 1450, flags: ['BROADCAST', 'UP'], linkinfo: { info_kind: 'bridge' }, addr_info: [{ family: 'inet', local: '10.0.1.3', prefixlen: 24 }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }] },
    { ifname: 'shvabcdefgh', ifalias: 'shoal-overlay:abcdefgh12345', mtu: 1450, flags: ['UP'], master: 'shbabcdefgh', linkinfo: { info_kind: 'vxlan', info_data: { id: 4097, local: '192.168.9.1', port: 4789 } } },
    { ifname: 'shbxyz12345', mtu: 1500, flags: ['UP'], linkinfo: { info_kind: 'bridge' } }, // someone else's
  ];
  const fdb = [
    { mac: '00:00:00:00:00:00', ifname: 'shvabcdefgh', dst: '192.168.9.2' },
    { mac: '02:42:0a:00:01:05', ifname: 'shvabcdefgh', dst: '192.168.9.2' },
  ];
  const st = readLinkStates(links, fdb);
  assert.deepEqual([...st.keys()], ['abcdefgh']);
  assert.deepEqual(st.get('abcdefgh'), {
    bridge: { mtu: 1450, up: true, addrs: ['10.0.1.3/24'] },
    vxlan: { vni: 4097, local: '192.168.9.1', port: 4789, master: 'shbabcdefgh', mtu: 1450, up: true },
    fdb: ['192.168.9.2'],
  });
});

test('a network entry from a task attachment; none without a VNI', () => {
  const net = {
    ID: 'abcdefgh12345',
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: 'app', Labels: {}, Scope: 'swarm' as const, DriverConfiguration: { Name: 'overlay', Options: { encrypted: '' } } },
    DriverState: { Name: 'overlay', Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097' } },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }] },
  };
  const { nodeAddr: _a, ...rest } = entry;
  assert.deepEqual(entryOfAttachment({ Network: net, Addresses: ['10.0.1.5/24'] }), { ...rest, encrypted: true, peers: [] });
  assert.equal(entryOfAttachment({ Network: { ...net, DriverState: { Name: 'overlay', Options: {} } }, Addresses: [] }), undefined);
});
