import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

// Issue 16 (docs/design/performance.md, "Memory (issue 16)"): every module loaded stays in the daemon's
// memory for its life, so what only some daemons use is loaded when asked for. A static import added
// on the daemon's path would load it again for every daemon; this catches that.

/** The files a fresh node process holds after loading the daemon's entry point (as bin/shoal.js does) and the daemon (as its runDaemon does). */
function loadedByDaemon(): string[] {
  const main = path.join(__dirname, 'main.js');
  const daemon = path.join(__dirname, 'daemon.js');
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(main)}); require(${JSON.stringify(daemon)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)))`], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

test('loading the daemon loads neither the docker runtime, the metrics, the dashboard, the body schemas nor lmdb', () => {
  const files = loadedByDaemon().map((f) => f.split(path.sep).join('/'));
  // the daemon itself was loaded, with what every manager needs
  for (const needed of [/\/src\/node\/daemon\.js$/, /\/src\/manager\/manager\.js$/, /\/src\/manager\/consensus\/wal\.js$/, /node_modules\/@grpc\/grpc-js\//]) {
    assert.ok(files.some((f) => needed.test(f)), `expected a module matching ${needed}`);
  }
  const onlyWhenAsked: [RegExp, string][] = [
    [/\/src\/agent\/executor\/docker\//, 'the docker executor (--runtime docker)'],
    [/\/src\/engine\//, 'the engine client (--runtime docker)'],
    [/\/src\/api\/engine-proxy\.js$/, 'the engine pass-through (--engine)'],
    [/node_modules\/prom-client\//, 'prom-client (--metrics-addr)'],
    [/\/src\/metrics\/metrics\.js$/, 'the metrics (--metrics-addr)'],
    [/\/src\/dashboard\/server\.js$/, 'the dashboard (--dashboard-addr)'],
    [/node_modules\/ajv\//, 'ajv (the first request body checked)'],
    [/\/src\/api\/validate\/engine-schema\.js$/, 'the Engine API body schema (the first request body checked)'],
    [/\/src\/cli\//, 'the CLI'],
    [/node_modules\/lmdb\//, 'lmdb (only to migrate a Raft log an older release wrote)'],
  ];
  for (const [re, what] of onlyWhenAsked) {
    const hit = files.find((f) => re.test(f));
    assert.equal(hit, undefined, `${what} is loaded at start: ${hit}`);
  }
});
