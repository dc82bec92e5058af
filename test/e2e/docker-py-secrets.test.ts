// docker-py 7.1.0's secret and config tests against a Shoal daemon on the docker runtime (the files
// are read back with exec, as docker-py does): test/e2e/py/secret_steps.py runs one step per call
// and prints what it saw as JSON; the asserts (docker-py's own, and a few more) are here.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestDaemon, freePort } from '../harness/daemon';
import { dockerPySkip, pyStepRunner } from '../harness/docker-py';
import { engineTestOptions, requireEngine } from '../harness/engine';

const skip = engineTestOptions().skip ?? dockerPySkip();

describe("docker-py's secret and config tests (docker runtime)", { skip, concurrency: false, timeout: 180_000 }, () => {
  let d: TestDaemon;
  const step = pyStepRunner('secret_steps.py', () => d, { timeoutMs: 90_000, env: { SHOAL_TEST_IMAGE: process.env.SHOAL_TEST_IMAGE?.trim() || 'shoal-busybox:test' } });

  before(async () => {
    d = new TestDaemon({ runtime: 'docker', engine: requireEngine().host, hostname: 'shoal-pysec' });
    await d.start();
    step('init', String(await freePort()));
  });
  after(async () => {
    await d?.teardown();
  });

  test('api_secret_test: create, unicode data, inspect (never the data), list by names, remove', () => {
    const r = step('secret_api');
    assert.deepEqual(r.created, { has_id: true, name: 'favorite_character', has_version: true, same_id: true, data: null });
    assert.deepEqual(r.listed, [true]);
    assert.equal(r.removed, true);
    assert.equal(r.gone.kind, 'NotFound');
    assert.equal(r.gone.status, 404);
    assert.deepEqual(r.unicode, { has_id: true, name: 'favorite_character', data: null });
  });

  test('api_config_test: create, unicode data, inspect (data as base64), list by name, remove', () => {
    const r = step('config_api');
    assert.equal(r.created.name, 'favorite_character');
    assert.equal(Buffer.from(r.created.data, 'base64').toString('utf8'), 'sakuya izayoi');
    assert.deepEqual(r.listed, [true]);
    assert.equal(r.removed, true);
    assert.equal(r.gone.kind, 'NotFound');
    assert.equal(Buffer.from(r.unicode.data, 'base64').toString('utf8'), 'いざよいさくや');
  });

  for (const kind of ['secret', 'unicode_secret', 'config', 'unicode_config']) {
    test(`test_create_service_with_${kind}`, () => {
      const r = step('service_with', kind);
      assert.equal(r.ref_equal, true, JSON.stringify(r.ref));
      assert.equal(r.container, true, 'the service container appeared');
      assert.equal(r.content_equal, true, `read back: ${JSON.stringify(r.content)}`);
      const c = step('cleanup');
      assert.equal(c[kind.endsWith('config') ? 'config' : 'secret'].kind, null, 'removable once the service is gone');
    });
  }
});
