// docker-py 7.1.0's autolock tests against a Shoal daemon (process runtime):
// test/e2e/py/autolock_steps.py runs one step per call and prints what it saw as JSON; the asserts
// (docker-py's own, and a few more on a restarted, locked manager) are here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestDaemon, freePort } from '../harness/daemon';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCRIPT = path.join(ROOT, 'test', 'e2e', 'py', 'autolock_steps.py');

const hasDockerPy = spawnSync('python3', ['-c', 'import docker'], { timeout: 20_000 }).status === 0;
if (!hasDockerPy && process.env.CI === 'true') throw new Error('docker-py is not importable by python3, and CI=true requires this suite to run');
const skip = hasDockerPy ? undefined : 'docker-py is not installed for python3';

type Json = Record<string, any>;
const LOCKED = 'Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" to unlock it.';

describe("docker-py's autolock tests", { skip, concurrency: false, timeout: 120_000 }, () => {
  let d: TestDaemon;
  const step = (name: string, arg?: string): Json => {
    const r = spawnSync('python3', [SCRIPT, d.sock, name, ...(arg ? [arg] : [])], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`docker-py step ${name} failed (${r.status}):\n${r.stdout}\n${r.stderr}\n--- daemon log ---\n${d.log()}`);
    return JSON.parse(r.stdout) as Json;
  };

  before(async () => {
    d = new TestDaemon({ runtime: 'process', hostname: 'shoal-pylock' });
    await d.start();
  });
  after(async () => {
    if (!d) return;
    d.docker(['swarm', 'leave', '--force']);
    await d.cleanup();
  });

  test('test_init_swarm_with_autolock_managers', async () => {
    const r = step('init_swarm_with_autolock_managers', String(await freePort()));
    assert.equal(r.init, true);
    assert.equal(r.autolock, true);
    assert.match(r.unlock_key.UnlockKey, /^SWMKEY-1-[A-Za-z0-9+/]{43}$/);
  });

  test('a restarted manager is locked for docker-py too: 503 with the locked text, wrong key 401, malformed 400; the key unlocks', async () => {
    step('leave'); // docker-py's tearDown
    const port = String(await freePort());
    const init = step('init_swarm_with_autolock_managers', port);
    await d.stop();
    await d.start();
    const wrong = `SWMKEY-1-${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    const r = step('locked', wrong);
    assert.equal(r.state, 'locked');
    assert.deepEqual([r.inspect.status, r.inspect.explanation], [503, LOCKED]);
    assert.deepEqual([r.wrong.status, r.wrong.explanation], [401, 'swarm could not be unlocked: invalid key provided']);
    assert.deepEqual([r.malformed.status, r.malformed.explanation], [400, 'invalid key string']);
    const u = step('unlock', init.unlock_key.UnlockKey);
    assert.equal(u.state, 'active');
    assert.deepEqual([u.again.status, u.again.explanation], [409, 'swarm is not locked']);
    step('leave');
  });

  test('test_rotate_manager_unlock_key', async () => {
    const r = step('rotate_manager_unlock_key', String(await freePort()));
    assert.equal(r.updated, true);
    assert.notEqual(r.key_1.UnlockKey, r.key_2.UnlockKey);
    assert.match(r.key_2.UnlockKey, /^SWMKEY-1-/, 'a new key, not none: autolock stays on');
    assert.equal(r.autolock, true);
  });
});
