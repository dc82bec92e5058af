import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Network, Service, ServiceSpec, Task } from '../../../types';
import { checkNetworkRemovable } from './networks';
import { withDefaults } from './defaults';
import { labelMatches, serviceMatches, taskMatches } from './filters';
import { resolveRef } from './resolve';
import { initialSwarmSpec } from './swarm-spec';
import { normalizeServiceSpec, validateServiceSpec } from './validate';

const spec = (over: Partial<ServiceSpec> = {}): ServiceSpec => ({
  Name: 'web',
  TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
  Mode: { Replicated: { Replicas: 1 } },
  ...over,
});

test('service spec validation uses swarmkit wording', () => {
  assert.doesNotThrow(() => validateServiceSpec(spec()));
  const cases: [Partial<ServiceSpec>, RegExp][] = [
    [{ Name: 'bad name' }, /rpc error: code = InvalidArgument desc = name must be valid as a DNS name component$/],
    [{ Name: '-x' }, /name must be valid as a DNS name component/],
    [{ Name: 'a'.repeat(64) }, /name must be valid as a DNS name component/],
    [{ TaskTemplate: { ContainerSpec: { Image: '' } } }, /ContainerSpec: image reference must be provided/],
    [{ Mode: { Replicated: { Replicas: -1 } } }, /Number of replicas must be non-negative/],
    [{ TaskTemplate: { ContainerSpec: { Image: 'x' }, Placement: { Constraints: ['node.role'] } } }, /constraint expected one operator from ==, !=$/],
    [{ TaskTemplate: { ContainerSpec: { Image: 'x' }, Placement: { Constraints: ['node.labels.x===y'] } } }, /desc = value '=y' is invalid$/],
    [{ TaskTemplate: { ContainerSpec: { Image: 'x' }, Placement: { Constraints: ['9x==y'] } } }, /key '9x' is invalid/],
    [{ Mode: { Replicated: { Replicas: 1_000_001 } } }, /Number of replicas must be at most 1000000, got 1000001/],
    [{ Mode: { Replicated: { Replicas: '3' as unknown as number } } }, /Number of replicas must be an integer, got "3"/],
    [{ TaskTemplate: { ContainerSpec: { Image: 'x', Mounts: [{ Type: 'wat' as 'bind', Target: '/x' }] } } }, /invalid MountType: "wat"/],
    [{ TaskTemplate: { ContainerSpec: { Image: 'x', Mounts: [{ Type: 'bind', Source: 'rel', Target: '/x' }] } } }, /must be an absolute path: rel$/],
    [{ TaskTemplate: { ContainerSpec: { Image: 'x', Mounts: [{ Type: 'volume', Target: '/x' }, { Type: 'tmpfs', Target: '/x' }] } } }, /duplicate mount point: \/x/],
    [{ TaskTemplate: { ContainerSpec: { Image: 'x', HealthCheck: { Interval: 5 } } } }, /Interval in HealthConfig cannot be less than 1ms/],
    [{ TaskTemplate: { ContainerSpec: { Image: 'x' }, Resources: { Limits: { NanoCPUs: 10 } } } }, /invalid cpu value 1e-8: Must be at least 0.001/],
    [{ TaskTemplate: { ContainerSpec: { Image: 'x' }, Resources: { Reservations: { MemoryBytes: 1024 } } } }, /invalid memory value 1024: Must be at least 4MiB/],
    [{ Labels: { a: { b: 'c' } as unknown as string } }, /labels: value of a must be a string/],
    [{ UpdateConfig: { MaxFailureRatio: 2 } }, /max failure ratio/],
    [{ Mode: { ReplicatedJob: { MaxConcurrent: -1 } } }, /MaxConcurrent must be non-negative/],
    [{ Mode: { ReplicatedJob: { TotalCompletions: 1.5 } } }, /TotalCompletions must be an integer, got 1.5/],
  ];
  for (const [over, re] of cases) assert.throws(() => validateServiceSpec(spec(over)), re, JSON.stringify(over));
});

test('normalize fills the replicated mode Docker assumes; insertDefaults fills Docker defaults', () => {
  const n = normalizeServiceSpec({ Name: 'x', TaskTemplate: { ContainerSpec: { Image: 'i' } }, Mode: {} });
  assert.deepEqual(n.Mode, { Replicated: { Replicas: 1 } });
  // the daemon's job defaults: MaxConcurrent 1, TotalCompletions = MaxConcurrent
  assert.deepEqual(normalizeServiceSpec({ Name: 'x', TaskTemplate: {}, Mode: { ReplicatedJob: {} } }).Mode, { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } });
  assert.deepEqual(normalizeServiceSpec({ Name: 'x', TaskTemplate: {}, Mode: { ReplicatedJob: { MaxConcurrent: 3 } } }).Mode, { ReplicatedJob: { MaxConcurrent: 3, TotalCompletions: 3 } });
  const d = withDefaults(n);
  assert.deepEqual(d.UpdateConfig, { Parallelism: 1, Delay: 0, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' });
  assert.equal(d.TaskTemplate.RestartPolicy?.Condition, 'any');
  assert.equal(d.TaskTemplate.RestartPolicy?.Delay, 5e9);
  assert.equal(d.TaskTemplate.ContainerSpec?.StopGracePeriod, 10e9);
  const kept = withDefaults({ ...n, UpdateConfig: { Parallelism: 3 } });
  assert.equal(kept.UpdateConfig?.Parallelism, 3);
});

test('swarm init spec: zero values from the CLI become defaults', () => {
  const s = initialSwarmSpec({ Raft: { ElectionTick: 0, HeartbeatTick: 0 } as never, Dispatcher: {} as never, Labels: undefined as never });
  assert.equal(s.Raft.ElectionTick, 10);
  assert.equal(s.Raft.SnapshotInterval, 10000);
  assert.equal(s.Dispatcher.HeartbeatPeriod, 5e9);
  assert.equal(s.CAConfig.NodeCertExpiry, 90 * 24 * 3600 * 1e9);
  assert.deepEqual(s.Labels, {});
  assert.equal(initialSwarmSpec({ Orchestration: { TaskHistoryRetentionLimit: 9 } }).Orchestration.TaskHistoryRetentionLimit, 9);
});

test('references resolve by ID, then name, then unique prefix', () => {
  const objs = [
    { ID: 'abc111', name: 'web' },
    { ID: 'abd222', name: 'db' },
    { ID: 'web', name: 'other' },
  ];
  const r = (ref: string) => resolveRef(objs, ref, (o) => o.name, 'service').ID;
  assert.equal(r('web'), 'web', 'exact ID wins over a name');
  assert.equal(r('db'), 'abd222');
  assert.equal(r('abc'), 'abc111');
  assert.throws(() => r('ab'), /service ab is ambiguous \(2 matches found\)/);
  assert.throws(() => r('zzz'), /^Error: service zzz not found$|service zzz not found/);
});

test('filters: labels, names by prefix, modes, up-to-date tasks', () => {
  assert.ok(labelMatches({ a: '1' }, 'a'));
  assert.ok(labelMatches({ a: '1' }, 'a=1'));
  assert.ok(!labelMatches({ a: '1' }, 'a=2'));
  const svc = { ID: 'id1', Spec: { ...spec(), Labels: { tier: 'front' } } } as unknown as Service;
  assert.ok(serviceMatches(svc, { name: ['we'] }));
  assert.ok(serviceMatches(svc, { mode: ['replicated'], label: ['tier=front'] }));
  assert.ok(!serviceMatches(svc, { mode: ['global'] }));
  const t = { ID: 't1', ServiceID: 'id1', Slot: 2, DesiredState: 'running', Labels: {}, internal: { specVersion: 1, serviceName: 'web' } } as unknown as Task;
  const specVersions = new Map([['id1', 2]]);
  assert.ok(taskMatches(t, { name: ['web.2'] }, { specVersions }));
  assert.ok(!taskMatches(t, { '_up-to-date': ['true'] }, { specVersions }));
  assert.ok(taskMatches(t, { '_up-to-date': ['true'] }, { specVersions: new Map([['id1', 1]]) }));
  assert.ok(!taskMatches(t, { 'desired-state': ['shutdown'] }, { specVersions }));
  // a task's label filter looks at its service's labels, as swarmkit's (docker stack ps relies on it)
  const serviceLabels = new Map([['id1', { 'com.docker.stack.namespace': 'demo' }]]);
  assert.ok(taskMatches(t, { label: ['com.docker.stack.namespace=demo'] }, { specVersions, serviceLabels }));
  assert.ok(!taskMatches(t, { label: ['com.docker.stack.namespace=other'] }, { specVersions, serviceLabels }));
  assert.ok(!taskMatches(t, { label: ['com.docker.stack.namespace=demo'] }, { specVersions }));
});

test('a network is held by tasks still wanted and not ended, not by a removed service\'s tasks shutting down (swarmkit)', () => {
  const net = { ID: 'n1', Spec: { Name: 'demo_default', Labels: {} } } as unknown as Network;
  const task = (desired: string, state: string, service = 's1') =>
    ({ ID: `t-${desired}-${state}`, ServiceID: service, DesiredState: desired, Status: { State: state }, NetworksAttachments: [{ Network: { ID: 'n1' } }] }) as unknown as Task;
  // s1 exists and uses another network only (its tasks still carry n1 from an earlier spec)
  const services = [{ ID: 's1', Spec: { Name: 'web', TaskTemplate: {} } }] as unknown as Service[];
  assert.throws(() => checkNetworkRemovable(net, services, [task('running', 'running')]), /network n1 is in use by task t-running-running/);
  assert.throws(() => checkNetworkRemovable(net, services, [task('running', 'starting')]), /in use by task/);
  checkNetworkRemovable(net, services, [task('remove', 'running')]);
  checkNetworkRemovable(net, services, [task('shutdown', 'running')]);
  checkNetworkRemovable(net, services, [task('running', 'failed')]);
  // the service is gone, the orchestrator has not marked its task yet
  checkNetworkRemovable(net, services, [task('running', 'running', 'gone')]);
});
