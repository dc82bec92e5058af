import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalField, canonicalizeFields, serviceOnWire, taskOnWire, withRegistryAuth } from './fields';

test('keys are matched case-insensitively, as Go decodes them', () => {
  // What docker-py 7.1.0 sends for client.services.create(..., mode=ServiceMode('replicated', 2)).
  const body = { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { replicated: { Replicas: 2 } } };
  assert.deepEqual(canonicalizeFields(body).Mode, { Replicated: { Replicas: 2 } });
  assert.deepEqual(canonicalizeFields({ mode: { GLOBAL: {} }, name: 'x' }), { Mode: { Global: {} }, Name: 'x' });
  assert.deepEqual(canonicalizeFields({ Mode: { replicatedjob: { maxconcurrent: 2 } } }), { Mode: { ReplicatedJob: { MaxConcurrent: 2 } } });
  assert.equal(canonicalField('availability'), 'Availability');
  assert.equal(canonicalField('NoSuchField'), undefined);
});

test('map values are data: label, option and sysctl keys are never folded', () => {
  const spec = {
    labels: { 'Mixed.Case': 'v', name: 'n' },
    TaskTemplate: {
      ContainerSpec: { Image: 'x', Labels: { Image: 'keep' }, Sysctls: { 'net.core.SOMAXCONN': '1' }, DNSConfig: { Options: ['ndots:2'] } },
      LogDriver: { Name: 'json-file', Options: { 'max-size': '1m', Mode: 'm' } },
      Networks: [{ Target: 'n1', DriverOpts: { mode: 'x' } }],
    },
  };
  const out = canonicalizeFields(spec) as unknown as typeof spec & { Labels: Record<string, string> };
  assert.deepEqual(out.Labels, { 'Mixed.Case': 'v', name: 'n' });
  assert.deepEqual(out.TaskTemplate.ContainerSpec.Labels, { Image: 'keep' });
  assert.deepEqual(out.TaskTemplate.ContainerSpec.Sysctls, { 'net.core.SOMAXCONN': '1' });
  assert.deepEqual(out.TaskTemplate.ContainerSpec.DNSConfig, { Options: ['ndots:2'] });
  assert.deepEqual(out.TaskTemplate.LogDriver.Options, { 'max-size': '1m', Mode: 'm' });
  assert.deepEqual(out.TaskTemplate.Networks[0]!.DriverOpts, { mode: 'x' });
});

test('unknown keys and later duplicates behave as in Go', () => {
  assert.deepEqual(canonicalizeFields({ Whatever: 1, name: 'a', Name: 'b' }), { Whatever: 1, Name: 'b' });
  assert.deepEqual(canonicalizeFields([{ target: 't' }]), [{ Target: 't' }]);
  assert.equal(canonicalizeFields(null), null);
});

test('ContainerSpec Healthcheck: stored as HealthCheck, shown as Healthcheck', () => {
  const spec = canonicalizeFields({ TaskTemplate: { ContainerSpec: { Image: 'x', Healthcheck: { Test: ['CMD', 'true'], interval: 1e9 } } } });
  assert.deepEqual(spec.TaskTemplate.ContainerSpec, { Image: 'x', HealthCheck: { Test: ['CMD', 'true'], Interval: 1e9 } });
  const svc = { ID: 's', Spec: spec, PreviousSpec: spec };
  const wire = serviceOnWire(svc) as unknown as { Spec: { TaskTemplate: { ContainerSpec: Record<string, unknown> } }; PreviousSpec: { TaskTemplate: { ContainerSpec: Record<string, unknown> } } };
  assert.deepEqual(Object.keys(wire.Spec.TaskTemplate.ContainerSpec), ['Image', 'Healthcheck']);
  assert.deepEqual(Object.keys(wire.PreviousSpec.TaskTemplate.ContainerSpec), ['Image', 'Healthcheck']);
  assert.ok('HealthCheck' in spec.TaskTemplate.ContainerSpec, 'the stored object is not changed');
  const task = taskOnWire({ ID: 't', Spec: { ContainerSpec: { HealthCheck: { Test: ['NONE'] } } } }) as unknown as { Spec: { ContainerSpec: Record<string, unknown> } };
  assert.deepEqual(task.Spec.ContainerSpec, { Healthcheck: { Test: ['NONE'] } });
  const plain = { ID: 'p', Spec: { Name: 'x' } };
  assert.equal(serviceOnWire(plain), plain, 'nothing to rename: the same object');
});

test('a `__proto__` key in a body stays data: it never becomes the prototype of what the backend reads', () => {
  const body = JSON.parse('{"__proto__":{"Name":"evil"},"TaskTemplate":{"__proto__":{"ContainerSpec":{}}}}') as object;
  const out = canonicalizeFields(body) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(out.Name, undefined);
  assert.equal((out.TaskTemplate as Record<string, unknown>).ContainerSpec, undefined);
  assert.ok(Object.prototype.hasOwnProperty.call(out, '__proto__'));
});

test('registry credentials: the header becomes PullOptions, a body never sets it, no answer shows it', () => {
  const spec = { Name: 'w', TaskTemplate: { ContainerSpec: { Image: 'r/x:1', PullOptions: { RegistryAuth: 'from-body' } } } };
  withRegistryAuth(spec, undefined);
  assert.equal('PullOptions' in spec.TaskTemplate.ContainerSpec, false);
  withRegistryAuth(spec, 'eyJ1c2VybmFtZSI6InUifQ==');
  assert.deepEqual((spec.TaskTemplate.ContainerSpec as { PullOptions?: unknown }).PullOptions, { RegistryAuth: 'eyJ1c2VybmFtZSI6InUifQ==' });
  const svc = { ID: 's', Spec: spec, PreviousSpec: spec };
  const wire = JSON.stringify(serviceOnWire(svc));
  assert.equal(wire.includes('RegistryAuth'), false);
  assert.equal(wire.includes('PullOptions'), false);
  assert.equal(JSON.stringify(taskOnWire({ ID: 't', Spec: spec.TaskTemplate })).includes('PullOptions'), false);
  // the stored object is left as it is: the node needs it
  assert.ok((svc.Spec.TaskTemplate.ContainerSpec as { PullOptions?: unknown }).PullOptions);
});

test('job iterations as Go prints swarm.Version: Index 0 is omitted (`{}`), others kept', () => {
  const svc = (i: number) => serviceOnWire({ ID: 's', Spec: { Name: 's', TaskTemplate: {} }, JobStatus: { JobIteration: { Index: i }, LastExecution: 't' } }) as unknown as { JobStatus: unknown };
  assert.deepEqual(svc(0).JobStatus, { JobIteration: {}, LastExecution: 't' });
  assert.deepEqual(svc(2).JobStatus, { JobIteration: { Index: 2 }, LastExecution: 't' });
  const task = (i: number) => (taskOnWire({ ID: 't', Spec: {}, JobIteration: { Index: i } }) as unknown as { JobIteration: unknown }).JobIteration;
  assert.deepEqual(task(0), {});
  assert.deepEqual(task(1), { Index: 1 });
  assert.equal('JobIteration' in (taskOnWire({ ID: 't', Spec: {} }) as object), false);
});
