// `shoal network|secret|config` (bin/shoal.js, a separate process) against a real Shoal daemon on
// the process runtime, compared line by line with the real docker CLI's output for the same state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestDaemon, dockerAvailable, freePort, runDocker } from '../harness/daemon';
import { runShoal, sameAsDocker, shoalOk } from '../harness/shoal-cli';

const HAVE_DOCKER = dockerAvailable();
const NO_DOCKER = 'the docker CLI is not installed (CI has it at /usr/local/bin/docker)';

let d: TestDaemon;

const shoal = (args: string[], input?: string) => runShoal(d.host, args, { input });
const ok = (args: string[], input?: string) => shoalOk(d.host, args, { input });

/** Relative times ("5 seconds ago") can tick between the two runs; only they are normalized. */
const AGO = /(Less than a second|\d+ seconds?|About a minute) ago */g;

/** Both CLIs, the same output; the CREATED column's width follows its texts, so the header's gap after it is normalized with them. */
const same = (args: string[], o: { input?: string; relativeTimes?: boolean } = {}) =>
  sameAsDocker(d.host, args, { input: o.input, norm: o.relativeTimes ? (x) => x.replace(AGO, '<ago> ').replace(/CREATED +UPDATED/, 'CREATED <gap> UPDATED') : undefined });

before(async () => {
  d = new TestDaemon({ hostname: 'objects-node' });
  await d.start();
  const port = await freePort();
  ok(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${port}`]);
});

after(async () => {
  await d?.cleanup();
});

test('network create/ls/inspect/rm/prune match the docker CLI', { skip: !HAVE_DOCKER && NO_DOCKER }, () => {
  const id = ok(['network', 'create', '-d', 'overlay', '--subnet', '10.231.7.0/24', '--gateway', '10.231.7.1', '--attachable', '--label', 'env=dev', '-o', 'com.example.x=1', 'front']).trim();
  assert.match(id, /^\w{25}$/);
  const other = runDocker(d.host, ['network', 'create', '-d', 'overlay', '--subnet', '10.231.8.0/24', '--gateway', '10.231.8.1', '--attachable', '--label', 'env=dev', '-o', 'com.example.x=1', 'back']);
  assert.equal(other.status, 0, other.stderr);
  // The same flags through both CLIs made the same network (but for its name, ID, subnet and time).
  const [front, back] = JSON.parse(ok(['network', 'inspect', 'front', 'back'])) as Record<string, unknown>[];
  const strip = (n: Record<string, unknown>) => {
    const { 'com.docker.network.driver.overlay.vxlanid_list': vxlan, ...options } = n.Options as Record<string, string>;
    assert.match(vxlan ?? '', /^\d+$/);
    return { ...n, Id: '', Name: '', Created: '', Options: options, IPAM: JSON.stringify(n.IPAM).replace(/10\.231\.\d+/g, 'N') };
  };
  assert.deepEqual(strip(front!), strip(back!));
  assert.deepEqual(front!.Labels, { env: 'dev' });

  const ls = same(['network', 'ls']);
  assert.match(ls.stdout, /^NETWORK ID +NAME +DRIVER +SCOPE\n/);
  assert.ok(ls.stdout.includes(`${id.slice(0, 12)}   front `), ls.stdout);
  same(['network', 'ls', '--no-trunc']);
  same(['network', 'ls', '-q']);
  same(['network', 'ls', '--filter', 'driver=overlay', '--filter', 'label=env=dev']);
  same(['network', 'ls', '--format', '{{.Name}}: {{.Driver}} {{.Scope}} {{.Internal}} {{.Label "env"}}']);
  same(['network', 'ls', '--format', 'table {{.Name}}\t{{.Labels}}\t{{.ID}}']);
  same(['network', 'ls', '--format', 'json']);
  same(['network', 'inspect', 'front']);
  same(['network', 'inspect', '--format', '{{.Name}} {{.Driver}} {{json .Labels}} {{.Attachable}} {{json .IPAM.Config}}', 'front', 'back']);
  same(['network', 'inspect', 'front', 'nope']);
  same(['network', 'rm', 'nope']);
  same(['network', 'rm', '-f', 'nope']);
  same(['network', 'create', 'front']);
  assert.equal(ok(['network', 'rm', 'front']), 'front\n');
  // prune is not repeatable, so each CLI prunes its own copy of the same state.
  const shoalPrune = ok(['network', 'prune', '-f']);
  assert.equal(shoal(['network', 'ls', '-q', '--filter', 'name=back']).stdout, '', 'prune removed the unused network');
  assert.equal(runDocker(d.host, ['network', 'create', '-d', 'overlay', 'back']).status, 0);
  const dockerPrune = runDocker(d.host, ['network', 'prune', '-f']);
  assert.deepEqual(shoalPrune.split('\n'), dockerPrune.stdout.split('\n'));
  assert.equal(shoalPrune, 'Deleted Networks:\nback\n\n');
  same(['network', 'prune', '-f']);
  same(['network', 'prune'], { input: 'n\n' });
});

test('secret create/ls/inspect/rm match the docker CLI', { skip: !HAVE_DOCKER && NO_DOCKER }, () => {
  const file = path.join(d.dataDir, 'pw.txt');
  fs.writeFileSync(file, 's3cret\n');
  const a = ok(['secret', 'create', '--label', 'env=dev', '-l', 'flag', 'db_password', file]).trim();
  assert.match(a, /^\w{25}$/);
  const b = ok(['secret', 'create', 'api-key-10', '-'], 'from stdin').trim();
  assert.equal(runDocker(d.host, ['secret', 'create', 'api-key-9', '-'], { input: 'x' }).status, 0);
  const data = (JSON.parse(ok(['secret', 'inspect', b])) as { Spec: { Name: string } }[])[0]!;
  assert.equal(data.Spec.Name, 'api-key-10');

  const ls = same(['secret', 'ls'], { relativeTimes: true });
  // Natural order: api-key-9 before api-key-10.
  assert.match(ls.stdout, /^ID +NAME +DRIVER +CREATED +UPDATED\n\w{25} +api-key-9 +\S.*\n\w{25} +api-key-10 .*\n\w{25} +db_password +/);
  same(['secret', 'ls', '-q']);
  same(['secret', 'ls', '--filter', 'label=env', '--format', '{{.ID}} {{.Name}} {{.Label "env"}} [{{.Driver}}]']);
  // {{.Labels}} of an object with two labels is in Go's random map order in docker's output, so not compared here.
  same(['secret', 'ls', '--format', 'table {{.Name}}\t{{.Label "env"}}\t{{.Driver}}']);
  same(['secret', 'ls', '--filter', 'name=api-key', '--format', 'table {{.Name}}\t{{.Labels}}']);
  same(['secret', 'inspect', 'db_password', 'api-key-10']);
  same(['secret', 'inspect', '--pretty', 'db_password', 'api-key-10']);
  same(['secret', 'inspect', '--format', '{{.Spec.Name}} {{json .Spec.Labels}}', a]);
  same(['secret', 'inspect', 'nope']);
  same(['secret', 'create', 'db_password', file]);
  same(['secret', 'create', 'empty', '-'], { input: '' });
  same(['secret', 'create', 'missing', path.join(d.dataDir, 'no-such-file')]);
  same(['secret', 'rm', 'nope']);
  assert.equal(ok(['secret', 'rm', 'db_password', 'api-key-10', 'api-key-9']), 'db_password\napi-key-10\napi-key-9\n');
  same(['secret', 'ls']);
});

test('config create/ls/inspect/rm match the docker CLI', { skip: !HAVE_DOCKER && NO_DOCKER }, () => {
  const file = path.join(d.dataDir, 'app.conf');
  fs.writeFileSync(file, 'listen 80\nworkers 2\n');
  const id = ok(['config', 'create', '-l', 'tier=web', 'app_conf', file]).trim();
  assert.match(id, /^\w{25}$/);
  ok(['config', 'create', 'motd', '-'], 'hello\n');
  same(['config', 'ls'], { relativeTimes: true });
  same(['config', 'ls', '-q', '--filter', 'name=app']);
  same(['config', 'ls', '--format', '{{.Name}}\t{{.Labels}}']);
  same(['config', 'inspect', 'app_conf']);
  const pretty = same(['config', 'inspect', '--pretty', 'app_conf', 'motd']);
  assert.match(pretty.stdout, /\nData:\nlisten 80\nworkers 2\n\n/);
  same(['config', 'inspect', '--format', '{{.ID}} {{.Spec.Name}}', 'app_conf']);
  same(['config', 'rm', 'nope', 'nope2']);
  assert.equal(ok(['config', 'rm', 'app_conf', 'motd']), 'app_conf\nmotd\n');
  same(['config', 'ls']);
});
