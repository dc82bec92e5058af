// docker-py 7.1.0's network tests against a Shoal daemon (process runtime, with the test engine for
// the local networks the API passes through): test/e2e/py/network_steps.py runs one step per call
// and prints what it saw as JSON; the asserts (docker-py's own, and a few more) are here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestDaemon, freePort, waitFor } from '../harness/daemon';
import { dockerPySkip, pyStepRunner } from '../harness/docker-py';
import { engineTestOptions, requireEngine } from '../harness/engine';

const skip = engineTestOptions().skip ?? dockerPySkip();

describe("docker-py's network tests (process runtime + engine for local networks)", { skip, concurrency: false, timeout: 120_000 }, () => {
  let d: TestDaemon;
  const step = pyStepRunner('network_steps.py', () => d);

  before(async () => {
    d = new TestDaemon({ runtime: 'process', engine: requireEngine().host, hostname: 'shoal-pynet' });
    await d.start();
    step('init', String(await freePort()));
  });
  after(async () => {
    if (!d) return;
    d.docker(['network', 'rm', 'dockerpytest_loc']);
    const ls = d.docker(['service', 'ls', '-q']).stdout.trim();
    if (ls) d.docker(['service', 'rm', ...ls.split('\n')]);
    await waitFor(async () => ((await d.api<unknown[]>('GET', '/v1.47/tasks')).body as unknown[] | undefined)?.length === 0, 30_000, 'tasks gone').catch(() => undefined);
    await d.cleanup();
  });

  test('test_create_network_attachable', () => {
    const r = step('attachable');
    assert.equal(r.attachable, true);
    assert.equal(r.driver, 'overlay');
    assert.equal(r.scope, 'swarm');
  });

  test('test_create_network_ingress: remove ingress, create one with ingress=True; a second is refused', () => {
    const r = step('ingress');
    assert.equal(r.gone.kind, 'NotFound');
    assert.equal(r.ingress, true);
    assert.equal(r.name, 'dockerpytest_ingress');
    assert.equal(r.again.kind, 'APIError');
    assert.match(r.again.explanation, /ingress network \([0-9a-z]+\) is already present/);
  });

  test('test_create_inspect_network_with_scope', () => {
    const r = step('scope');
    assert.equal(r.local_plain, true);
    assert.equal(r.local_local, 'local');
    assert.equal(r.local_global.kind, 'NotFound');
    assert.equal(r.swarm_plain, true);
    assert.equal(r.swarm_swarm, 'swarm');
    assert.equal(r.swarm_local.kind, 'NotFound');
  });

  test('test_create_service_with_custom_networks, and updates that keep or change them', () => {
    const r = step('custom_networks');
    assert.deepEqual(r.created, [{ Target: r.net1 }, { Target: r.net2 }], 'names resolved to IDs, nothing added');
    assert.deepEqual(r.kept, [{ Target: r.net1 }, { Target: r.net2 }]);
    assert.equal(r.kept_version_moved, true);
    assert.deepEqual(r.narrowed, [{ Target: r.net1 }]);
    assert.deepEqual(r.switched, [{ Target: r.net2 }]);
    assert.deepEqual(r.switched_command, ['true']);
  });

  test('test_create_service_with_network_attachment_config', async () => {
    // The previous step's networks are removable once its service's tasks are gone.
    await waitFor(() => step('cleanup').removed.length === 2 || undefined, 30_000, 'dockerpytest_1/2 removed', 300);
    const r = step('attachment_config');
    assert.equal(r.networks.length, 1);
    assert.equal(r.networks[0].Target, r.net);
    assert.deepEqual(r.networks[0].Aliases, ['dockerpytest_1_alias']);
    assert.deepEqual(r.networks[0].DriverOpts, { foo: 'bar' });
  });
});
