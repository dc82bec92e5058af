import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Network, Service, Task } from '../../../types';
import { nodeFixture, taskFixture } from '../../../testing/fixtures';
import { namesTable } from './names';

const net = (id: string, name: string, ingress = false): Network => ({
  ID: id,
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Name: name, Labels: {}, Scope: 'swarm', ...(ingress ? { Ingress: true } : {}) },
  DriverState: { Name: 'overlay', Options: {} },
  IPAMOptions: { Driver: {} },
  internal: { vni: 4096, nodeAddrs: {} },
});

const svc = (id: string, name: string, opts: { mode?: 'vip' | 'dnsrr'; vips?: { NetworkID: string; Addr: string }[]; aliases?: string[] } = {}): Service => ({
  ID: id,
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Name: name, TaskTemplate: { Networks: [{ Target: 'backend', ...(opts.aliases ? { Aliases: opts.aliases } : {}) }] }, Mode: { Replicated: { Replicas: 2 } } },
  Endpoint: { Spec: { Mode: opts.mode ?? 'vip' }, VirtualIPs: opts.vips ?? [] },
  internal: { specVersion: 1 },
});

const task = (id: string, service: Service, slot: number, addr: string, over: Partial<Task> = {}): Task =>
  taskFixture({
    ID: id,
    ServiceID: service.ID,
    Slot: slot,
    NodeID: 'n1',
    Status: { Timestamp: '', State: 'running', Message: '' },
    NetworksAttachments: [{ Network: { ...net('netB', 'backend') }, Addresses: [`${addr}/24`] }],
    internal: { specVersion: 1, serviceName: service.Spec.Name },
    ...over,
  });

const nodes = new Map([['n1', nodeFixture({ ID: 'n1' })]]);

test('names: vip service → VIP, tasks.<service> → ready task addresses, task names → their address', () => {
  const web = svc('s1', 'Web', { vips: [{ NetworkID: 'netB', Addr: '10.0.1.2/24' }], aliases: ['front'] });
  const tasks = [
    task('t1', web, 1, '10.0.1.5', { Status: { Timestamp: '', State: 'running', Message: '', ContainerStatus: { ContainerID: 'abcdef0123456789abcd' } } }),
    task('t2', web, 2, '10.0.1.4'),
    task('t3', web, 3, '10.0.1.9', { DesiredState: 'shutdown' }), // leaving: not in DNS
  ];
  const [b] = namesTable([net('netB', 'backend')], [web], tasks, nodes);
  assert.equal(b!.networkName, 'backend');
  assert.deepEqual(b!.records, {
    'abcdef012345': ['10.0.1.5'],
    'front': ['10.0.1.2'],
    'tasks.front': ['10.0.1.4', '10.0.1.5'],
    'tasks.web': ['10.0.1.4', '10.0.1.5'],
    'web': ['10.0.1.2'],
    'web.1.t1': ['10.0.1.5'],
    'web.2.t2': ['10.0.1.4'],
  });
  assert.deepEqual(b!.ptr, { '10.0.1.5': 'Web.1.t1', '10.0.1.4': 'Web.2.t2' });
});

test('names: dnsrr service → the task addresses; no ready task → no service name at all (as libnetwork)', () => {
  const rr = svc('s2', 'rr', { mode: 'dnsrr', vips: [{ NetworkID: 'netB', Addr: '10.0.1.2/24' }] });
  const idle = svc('s3', 'idle', { vips: [{ NetworkID: 'netB', Addr: '10.0.1.3/24' }] });
  const tasks = [task('a', rr, 1, '10.0.1.10'), task('b', rr, 2, '10.0.1.8'), task('c', idle, 1, '10.0.1.11', { Status: { Timestamp: '', State: 'starting', Message: '' } })];
  const [b] = namesTable([net('netB', 'backend')], [rr, idle], tasks, nodes);
  assert.deepEqual(b!.records, {
    'rr': ['10.0.1.8', '10.0.1.10'],
    'rr.1.a': ['10.0.1.10'],
    'rr.2.b': ['10.0.1.8'],
    'tasks.rr': ['10.0.1.8', '10.0.1.10'],
  });
});

test('names: a network only holds the tasks attached to it; a global task is named by its node', () => {
  const web = svc('s1', 'web', { vips: [{ NetworkID: 'netB', Addr: '10.0.1.2/24' }] });
  const g = task('g1', web, 0, '10.0.1.7', { Slot: undefined });
  const [b, other] = namesTable([net('netB', 'backend'), net('netO', 'other')], [web], [g], nodes);
  assert.deepEqual(b!.records['web.n1.g1'], ['10.0.1.7']);
  assert.deepEqual(other!.records, {});
  assert.equal(other!.networkName, 'other');
});

test('names (property): tasks.<service> on a network is exactly its ready tasks’ addresses there; <service> is the VIP or the same set', () => {
  const states = ['running', 'starting', 'shutdown'] as const;
  fc.assert(
    fc.property(
      fc.array(
        fc.record({ svc: fc.integer({ min: 0, max: 2 }), state: fc.constantFrom(...states), desired: fc.constantFrom('running', 'shutdown'), onNet: fc.boolean(), node: fc.constantFrom('n1', 'down') }),
        { maxLength: 12 },
      ),
      fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      (specs, dnsrr) => {
        const services = [0, 1, 2].map((i) => svc(`s${i}`, `svc${i}`, { mode: dnsrr[i] ? 'dnsrr' : 'vip', vips: [{ NetworkID: 'netB', Addr: `10.0.1.${200 + i}/24` }] }));
        const tasks = specs.map((s, i) =>
          task(`t${i}`, services[s.svc]!, i + 1, `10.0.1.${10 + i}`, {
            NodeID: s.node,
            DesiredState: s.desired as Task['DesiredState'],
            Status: { Timestamp: '', State: s.state, Message: '' },
            ...(s.onNet ? {} : { NetworksAttachments: [] }),
          }),
        );
        const allNodes = new Map([['n1', nodeFixture({ ID: 'n1' })], ['down', nodeFixture({ ID: 'down', Status: { State: 'down', Addr: '' } })]]);
        const [b] = namesTable([net('netB', 'backend')], services, tasks, allNodes);
        for (let i = 0; i < 3; i++) {
          const want = specs
            .map((s, j) => ({ s, addr: `10.0.1.${10 + j}` }))
            .filter(({ s }) => s.svc === i && s.state === 'running' && s.desired === 'running' && s.onNet && s.node === 'n1')
            .map((x) => x.addr)
            .sort();
          const got = [...(b!.records[`tasks.svc${i}`] ?? [])].sort();
          assert.deepEqual(got, want);
          if (want.length === 0) assert.equal(b!.records[`svc${i}`], undefined);
          else assert.deepEqual([...b!.records[`svc${i}`]!].sort(), dnsrr[i] ? want : [`10.0.1.${200 + i}`]);
        }
      },
    ),
  );
});
