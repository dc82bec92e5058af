import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSpec, mergeEnv, parsePublish, shellWords, SpecError, updateSpec } from './spec';

test('service create: words after IMAGE are ContainerSpec.Args; --entrypoint is Command', () => {
  const s = createSpec('busybox', ['sh', '-c', 'echo hi'], { name: 'demo', replicas: '3', env: ['A=1', 'B=2', 'A=3'] });
  assert.equal(s.Name, 'demo');
  assert.deepEqual(s.Mode, { Replicated: { Replicas: 3 } });
  assert.deepEqual(s.TaskTemplate.ContainerSpec, { Image: 'busybox', Args: ['sh', '-c', 'echo hi'], Env: ['B=2', 'A=3'] });
  const e = createSpec('busybox', [], { entrypoint: 'sh -c "x y"' });
  assert.deepEqual(e.TaskTemplate.ContainerSpec?.Command, ['sh', '-c', 'x y']);
  assert.equal(e.TaskTemplate.ContainerSpec?.Args, undefined);
});

test('service create: policies, resources, placement, update config', () => {
  const s = createSpec('img', [], {
    mode: 'global',
    constraint: ['node.role==manager'],
    restartCondition: 'on-failure',
    restartMaxAttempts: '3',
    limitCpu: '0.5',
    reserveMemory: '64m',
    updateParallelism: '2',
    updateOrder: 'start-first',
    publish: ['8080:80'],
  });
  assert.deepEqual(s.Mode, { Global: {} });
  assert.deepEqual(s.TaskTemplate.Placement, { Constraints: ['node.role==manager'] });
  assert.deepEqual(s.TaskTemplate.RestartPolicy, { Condition: 'on-failure', Delay: 5e9, MaxAttempts: 3 });
  assert.deepEqual(s.TaskTemplate.Resources, { Limits: { NanoCPUs: 5e8 }, Reservations: { MemoryBytes: 64 * 1024 * 1024 } });
  assert.deepEqual(s.UpdateConfig, { Parallelism: 2, Delay: 0, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'start-first' });
  assert.equal(s.RollbackConfig, undefined);
  assert.deepEqual(s.EndpointSpec?.Ports, [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }]);
});

test('bad flags give Docker-like messages', () => {
  assert.throws(() => createSpec('i', [], { mode: 'global', replicas: '2' }), (e: unknown) => e instanceof SpecError && /replicas can only be used with replicated or replicated-job mode/.test(e.message));
  // jobs: --replicas is TotalCompletions, --max-concurrent defaults to it
  assert.deepEqual(createSpec('i', [], { mode: 'replicated-job', replicas: '5', maxConcurrent: '2' }).Mode, { ReplicatedJob: { TotalCompletions: 5, MaxConcurrent: 2 } });
  assert.deepEqual(createSpec('i', [], { mode: 'replicated-job', replicas: '3' }).Mode, { ReplicatedJob: { TotalCompletions: 3, MaxConcurrent: 3 } });
  assert.deepEqual(createSpec('i', [], { mode: 'global-job' }).Mode, { GlobalJob: {} });
  assert.throws(() => createSpec('i', [], { mode: 'replicated', maxConcurrent: '2' }), /max-concurrent can only be used with replicated-job mode/);
  assert.throws(() => createSpec('i', [], { mode: 'x' }), /Unknown mode: x, only replicated and global supported/);
  assert.throws(() => createSpec('i', [], { restartDelay: '5' }), /invalid duration/);
});

test('service update edits a copy of the current spec', () => {
  const cur = createSpec('busybox:1', ['sleep', '1000'], { name: 'w', replicas: '2', env: ['A=1', 'B=2'], label: ['x=1'] });
  const next = updateSpec(cur, { image: 'busybox:2', envAdd: ['A=9'], envRm: ['B'], labelAdd: ['y=2'], labelRm: ['x'], replicas: '5', force: true });
  assert.equal(cur.TaskTemplate.ContainerSpec?.Image, 'busybox:1');
  assert.equal(next.TaskTemplate.ContainerSpec?.Image, 'busybox:2');
  assert.deepEqual(next.TaskTemplate.ContainerSpec?.Env, ['A=9']);
  assert.deepEqual(next.Labels, { y: '2' });
  assert.deepEqual(next.Mode, { Replicated: { Replicas: 5 } });
  assert.equal(next.TaskTemplate.ForceUpdate, 1);
});

test('helpers', () => {
  assert.deepEqual(shellWords(`sh -c 'echo "a b"' x\\ y`), ['sh', '-c', 'echo "a b"', 'x y']);
  assert.deepEqual(mergeEnv(['A=1', 'B=2'], ['B=3', 'C=4'], ['A']), ['B=3', 'C=4']);
  assert.deepEqual(parsePublish('published=8080,target=80,protocol=udp,mode=host'), { Protocol: 'udp', PublishMode: 'host', TargetPort: 80, PublishedPort: 8080 });
  assert.deepEqual(parsePublish('53/udp'), { Protocol: 'udp', TargetPort: 53, PublishMode: 'ingress' });
});
