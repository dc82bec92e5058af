// Secret delivery on three process-runtime daemons on loopback (issue 11): a secret reaches only
// the node that runs a task using it. The other worker's whole data dir and daemon log hold no byte
// of it (neither the marker nor its base64), and its agent never held it (the worker's "secrets and
// configs held" log lines, IDs only); the node running the task holds it while the task runs and
// forgets it when the service is removed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestCluster } from '../harness/cluster';
import { waitFor } from '../harness/daemon';

const NODE = process.execPath;

/** Every regular file below `dir`. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The "secrets and configs held" log lines of a daemon: the secret IDs each one lists. */
function heldSecrets(log: string): string[][] {
  return log
    .split('\n')
    .filter((l) => l.includes('worker: secrets and configs held'))
    .map((l) => (JSON.parse(l) as { secrets: string[] }).secrets);
}

describe('secret delivery: only to the node that runs its task (3 nodes, process runtime)', { concurrency: false, timeout: 120_000 }, () => {
  const c = new TestCluster({ workers: 2, hostPrefix: 'secn' });
  before(async () => {
    await c.start();
  });
  after(async () => {
    await c.cleanup();
  });

  test('the other worker never receives it; the running node drops it when the task goes', async () => {
    const m = c.manager;
    const [runner, other] = c.workers as [(typeof c.nodes)[0], (typeof c.nodes)[0]];
    const marker = `MARK${randomBytes(12).toString('hex')}`;
    const r = m.daemon.docker(['secret', 'create', 'deliv', '-'], { input: marker });
    assert.equal(r.status, 0, r.stderr);
    const secretId = r.stdout.trim();
    m.dockerOk([
      'service', 'create', '-d', '--name', 'deliv', '--secret', 'deliv', '--constraint', `node.hostname==${runner.hostname}`,
      'busybox', NODE, '-e', `const s = require('fs').readFileSync(process.env.SHOAL_SECRETS_DIR + '/deliv', 'utf8'); console.log('LEN=' + s.length); setInterval(() => {}, 1000)`,
    ]);
    await waitFor(async () => (await c.running('deliv')).length === 1, 30_000, 'deliv running');
    await waitFor(() => m.docker(['service', 'logs', '--raw', 'deliv']).stdout.includes(`LEN=${marker.length}`), 20_000, 'the task read its secret');
    const onRunner = heldSecrets(runner.daemon.log());
    assert.deepEqual(onRunner.at(-1), [secretId], 'the running node holds it');

    // the other worker: no message ever listed it, and no file or log line holds it
    assert.ok(heldSecrets(other.daemon.log()).every((ids) => !ids.includes(secretId)), 'never sent to the other worker');
    const needles = [Buffer.from(marker), Buffer.from(Buffer.from(marker).toString('base64').slice(0, 20))];
    const files = filesUnder(other.daemon.dataDir);
    assert.ok(files.some((f) => f.endsWith('daemon.log')), 'the log is among the files scanned');
    for (const f of files) {
      const bytes = fs.readFileSync(f);
      for (const n of needles) assert.equal(bytes.indexOf(n), -1, `${f} holds the secret`);
    }

    m.dockerOk(['service', 'rm', 'deliv']);
    await waitFor(() => heldSecrets(runner.daemon.log()).at(-1)?.length === 0, 30_000, 'the running node forgot the secret');
    m.dockerOk(['secret', 'rm', 'deliv']);
  });
});
