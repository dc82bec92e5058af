import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Service, Task } from '../../../types';
import { nodeFixture, taskFixture } from '../../../testing/fixtures';
import { ingressTable, nodeChangeMatters } from './ingress';

const svc = (over: Partial<Service['Endpoint']> = {}, labels: Record<string, string> = {}): Service => ({
  ID: 'svc',
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Name: 'web', Labels: labels, TaskTemplate: {}, Mode: { Replicated: { Replicas: 3 } } },
  Endpoint: { Spec: {}, Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }], ...over },
  internal: { specVersion: 1 },
});

const running = (id: string, node: string, port: number, over: Partial<Task> = {}): Task =>
  taskFixture({
    ID: id,
    ServiceID: 'svc',
    NodeID: node,
    Status: { Timestamp: '', State: 'running', Message: '' },
    internal: { specVersion: 1, serviceName: 'web', endpoints: [{ Protocol: 'tcp', TargetPort: 80, Port: port }] },
    ...over,
  });

test('ingress table: ready tasks only, at their node address and reported port', () => {
  const nodes = new Map([
    ['n1', nodeFixture({ ID: 'n1', Status: { State: 'ready', Addr: '10.1.0.1' } })],
    ['n2', nodeFixture({ ID: 'n2', Status: { State: 'ready', Addr: '10.1.0.2' } })],
    ['n3', nodeFixture({ ID: 'n3', Status: { State: 'down', Addr: '10.1.0.3' } })],
  ]);
  const tasks = [
    running('a', 'n1', 31001),
    running('b', 'n2', 31002),
    running('c', 'n3', 31003), // node down
    running('d', 'n1', 31004, { DesiredState: 'shutdown' }), // being stopped
    running('e', 'n2', 31005, { Status: { Timestamp: '', State: 'starting', Message: '' } }),
    running('f', 'n2', 31006, { internal: { specVersion: 1, serviceName: 'web', health: 'unhealthy', endpoints: [{ Protocol: 'tcp', TargetPort: 80, Port: 31006 }] } }),
    running('g', 'n2', 31007, { internal: { specVersion: 1, serviceName: 'web' } }), // nothing reported yet
  ];
  const t = ingressTable([svc()], () => tasks, nodes);
  assert.deepEqual(t, [
    {
      serviceId: 'svc',
      serviceName: 'web',
      protocol: 'tcp',
      publishedPort: 8080,
      targetPort: 80,
      backends: [
        { taskId: 'a', host: '10.1.0.1', port: 31001 },
        { taskId: 'b', host: '10.1.0.2', port: 31002 },
      ],
    },
  ]);
});

test('ingress table: host-mode ports are not in it; the PROXY protocol label is carried', () => {
  const host = svc({ Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] });
  assert.deepEqual(ingressTable([host], () => [], new Map()), []);
  const pp = svc({}, { 'com.shoal.mesh.proxy-protocol': 'v2' });
  assert.equal(ingressTable([pp], () => [], new Map())[0]!.proxyProtocol, 'v2');
});

test('a node change matters to the network views only when its address, down state or drain changes', () => {
  const ready = nodeFixture({ ID: 'n1', Status: { State: 'ready', Addr: '10.0.0.1' } } as never);
  const unknown = { ...ready, Status: { ...ready.Status, State: 'unknown' as const, Message: 'leadership change' } };
  assert.equal(nodeChangeMatters(ready, unknown), false, 'ready → unknown (leader change)');
  assert.equal(nodeChangeMatters(unknown, ready), false, 'unknown → ready (session again)');
  assert.equal(nodeChangeMatters(ready, { ...ready, Status: { ...ready.Status, State: 'down' as const } }), true, 'down');
  assert.equal(nodeChangeMatters(ready, { ...ready, Status: { ...ready.Status, Addr: '10.0.0.2' } }), true, 'new address');
  assert.equal(nodeChangeMatters(ready, { ...ready, Spec: { ...ready.Spec, Availability: 'drain' as const } }), true, 'drained');
  assert.equal(nodeChangeMatters(undefined, ready), true, 'created');
  assert.equal(nodeChangeMatters(ready, undefined), true, 'removed');
});
