import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Network, Service, Task } from '../../../types';
import { nodeFixture, taskFixture } from '../../../testing/fixtures';
import { buildNetwork, ingressNetwork } from '../../controlapi/core/networks';
import { backendOf } from './ingress';
import { nodeNetworkViews } from './netview';

const ctx = { now: '', pools: ['10.0.0.0/8'], subnetSize: 24 };
const ingress = ingressNetwork({ ...ctx, id: 'ing' });
ingress.internal.nodeAddrs = { n1: '10.0.0.2/24', n2: '10.0.0.3/24', n3: '10.0.0.4/24' };
const app: Network = buildNetwork({ Name: 'app', Options: { encrypted: '' } }, { ...ctx, id: 'app', existing: [ingress] });
app.internal.nodeAddrs = { n1: '10.0.1.3/24', n2: '10.0.1.4/24' };
const { internal: _i, ...appPublic } = app;
const { internal: _j, ...ingPublic } = ingress;

const nodes = new Map([
  ['n1', nodeFixture({ ID: 'n1', Status: { State: 'ready', Addr: '192.168.9.1' } })],
  ['n2', nodeFixture({ ID: 'n2', Status: { State: 'ready', Addr: '192.168.9.2' } })],
  ['n3', nodeFixture({ ID: 'n3', Status: { State: 'ready', Addr: '192.168.9.3' } })],
]);

const svc: Service = {
  ID: 'web',
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Name: 'web', TaskTemplate: {}, Mode: { Replicated: { Replicas: 2 } } },
  Endpoint: { Spec: {}, VirtualIPs: [{ NetworkID: 'ing', Addr: '10.0.0.5/24' }, { NetworkID: 'app', Addr: '10.0.1.2/24' }] },
  internal: { specVersion: 1 },
};

const task = (id: string, node: string, addr: string, over: Partial<Task> = {}): Task =>
  taskFixture({
    ID: id,
    ServiceID: 'web',
    NodeID: node,
    Status: { Timestamp: '', State: 'running', Message: '' },
    NetworksAttachments: [
      { Network: ingPublic, Addresses: ['10.0.0.9/24'] },
      { Network: appPublic, Addresses: [addr] },
    ],
    ...over,
  });

test('per-node view: a node gets the networks its tasks are on (ingress everywhere), its own address, the other members as VXLAN peers, and the VIPs there', () => {
  const tasks = [task('a', 'n1', '10.0.1.5/24'), task('b', 'n2', '10.0.1.6/24', { Status: { Timestamp: '', State: 'starting', Message: '' } })];
  const views = nodeNetworkViews({ networks: [ingress, app], services: [svc], tasks, nodes });
  const v1 = views.get('n1')!;
  assert.deepEqual(
    v1.networks.map((n) => [n.name, n.nodeAddr, n.peers, n.vni, n.encrypted]),
    [
      ['app', '10.0.1.3/24', ['192.168.9.2'], 4097, true],
      ['ingress', '10.0.0.2/24', ['192.168.9.2', '192.168.9.3'], 4096, false],
    ],
  );
  assert.equal(v1.networks[0]!.subnet, '10.0.1.0/24');
  assert.equal(v1.networks[0]!.gateway, '10.0.1.1');
  // only the ready task is a backend; no VIP on ingress (the mesh balances published ports itself)
  assert.deepEqual(v1.vips, [{ networkId: 'app', serviceId: 'web', serviceName: 'web', vip: '10.0.1.2', backends: ['10.0.1.5'] }]);
  // n3 has no task: ingress only, no VIPs
  const v3 = views.get('n3')!;
  assert.deepEqual(v3.networks.map((n) => n.name), ['ingress']);
  assert.deepEqual(v3.vips, []);
});

test('per-node view: a stopped task takes its node off the network; a down node is no peer', () => {
  const down = new Map(nodes);
  down.set('n2', nodeFixture({ ID: 'n2', Status: { State: 'down', Addr: '192.168.9.2' } }));
  const tasks = [task('a', 'n1', '10.0.1.5/24'), task('b', 'n3', '10.0.1.6/24', { Status: { Timestamp: '', State: 'shutdown', Message: '' } })];
  const views = nodeNetworkViews({ networks: [ingress, app], services: [svc], tasks, nodes: down });
  assert.deepEqual(views.get('n1')!.networks.map((n) => [n.name, n.peers]), [
    ['app', []],
    ['ingress', ['192.168.9.3']],
  ]);
  assert.deepEqual(views.get('n3')!.networks.map((n) => n.name), ['ingress']);
});

test('per-node view: peers are the other up members\' addresses, each once; nodes sharing an address (simulated nodes) are not each other\'s peers', () => {
  const shared = new Map(nodes);
  shared.set('n4', nodeFixture({ ID: 'n4', Status: { State: 'ready', Addr: '192.168.9.3' } }));
  shared.set('n5', nodeFixture({ ID: 'n5', Status: { State: 'unknown', Addr: '192.168.9.5' } }));
  shared.set('n6', nodeFixture({ ID: 'n6', Status: { State: 'ready', Addr: '' } }));
  const views = nodeNetworkViews({ networks: [ingress], services: [], tasks: [], nodes: shared });
  const peers = (id: string) => views.get(id)!.networks.map((n) => n.peers);
  assert.deepEqual(peers('n1'), [['192.168.9.2', '192.168.9.3', '192.168.9.5']]);
  assert.deepEqual(peers('n3'), [['192.168.9.1', '192.168.9.2', '192.168.9.5']], 'n4 shares its address');
  assert.deepEqual(peers('n4'), peers('n3'));
  assert.deepEqual(peers('n6'), [['192.168.9.1', '192.168.9.2', '192.168.9.3', '192.168.9.5']], 'a node without an address has every peer');
});

test('ingress backend of a docker task: its ingress address and the target port; a process task: its node port; a docker task with host-mode endpoints: ingress for the others', () => {
  const t = task('a', 'n1', '10.0.1.5/24');
  assert.deepEqual(backendOf(t, nodes.get('n1')!, 'tcp', 80), { taskId: 'a', host: '10.0.0.9', port: 80 });
  t.internal.endpoints = [{ Protocol: 'tcp', TargetPort: 80, Port: 31000 }];
  assert.deepEqual(backendOf(t, nodes.get('n1')!, 'tcp', 80), { taskId: 'a', host: '192.168.9.1', port: 31000 });
  assert.equal(backendOf(t, nodes.get('n1')!, 'udp', 53), undefined, 'a process task reports every port it has');
  // a docker task reports only its host-mode bindings: its ingress ports are still reached over ingress
  t.internal.ports = [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }];
  t.internal.endpoints = [{ Protocol: 'tcp', TargetPort: 80, Port: 8080 }];
  assert.deepEqual(backendOf(t, nodes.get('n1')!, 'udp', 53), { taskId: 'a', host: '10.0.0.9', port: 53 });
  delete t.NetworksAttachments;
  assert.equal(backendOf(t, nodes.get('n1')!, 'udp', 53), undefined, 'neither an endpoint nor an ingress address');
});
