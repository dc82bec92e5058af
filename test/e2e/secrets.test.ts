// Secrets and configs through the real docker CLI (issue 11): the objects (create, ls, inspect,
// --pretty, labels-only update, rm, 409, size and name limits), services that use them (files read
// back by the task itself, templates rendered per task, rm refused while in use, --secret-add and
// --secret-rm rolling the tasks), on the process runtime; and on the docker runtime, the files at
// /run/secrets read with `docker exec` against a real engine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { TestCluster, type ClusterNode } from '../harness/cluster';
import { waitFor } from '../harness/daemon';
import { engineTestOptions, requireEngine } from '../harness/engine';

const NODE = process.execPath;
const V = '/v1.47';

// A process task that reports its files once (dir mode, each file's name, mode and content), then idles.
const REPORT = `
const fs = require('fs'), path = require('path');
const list = (d) => { try { return fs.readdirSync(d).sort(); } catch { return []; } };
const s = process.env.SHOAL_SECRETS_DIR || '', c = process.env.SHOAL_CONFIGS_DIR || '';
const files = list(s).map((f) => f + ':' + (fs.statSync(path.join(s, f)).mode & 0o777).toString(8) + ':' + fs.readFileSync(path.join(s, f), 'utf8'));
const conf = c ? fs.readFileSync(path.join(c, 'etc/app.conf'), 'utf8').trim() : '';
const dirMode = s ? (fs.statSync(path.dirname(s)).mode & 0o777).toString(8) : '';
console.log('REPORT task=' + process.env.SHOAL_TASK_ID + ' dir=' + path.dirname(s) + ' dirmode=' + dirMode + ' files=' + files.join(',') + ' conf=' + conf);
setInterval(() => {}, 1000);
`;

interface Report {
  task: string;
  dir: string;
  dirmode: string;
  files: string;
  conf: string;
}

function reports(n: ClusterNode, service: string): Report[] {
  const out = n.docker(['service', 'logs', '--raw', service]).stdout;
  return [...out.matchAll(/^REPORT task=(\S+) dir=(\S*) dirmode=(\S*) files=(\S*) conf=(.*)$/gm)].map((m) => ({ task: m[1]!, dir: m[2]!, dirmode: m[3]!, files: m[4]!, conf: m[5]! }));
}

/** The report of the service's one running task, once it has printed it. */
async function runningReport(c: TestCluster, service: string): Promise<Report> {
  return waitFor(
    async () => {
      const running = await c.running(service);
      if (running.length !== 1) return undefined;
      return reports(c.manager, service).find((r) => r.task === running[0]!.ID);
    },
    30_000,
    `${service}: its running task's report`,
    200,
  );
}

describe('secrets and configs (process runtime, docker CLI)', { concurrency: false, timeout: 180_000 }, () => {
  const c = new TestCluster({ workers: 0, hostPrefix: 'sec' });
  let m: ClusterNode;
  const create = (kind: 'secret' | 'config', args: string[], input: string) => m.daemon.docker([kind, 'create', ...args, '-'], { input });
  before(async () => {
    await c.start();
    m = c.manager;
  });
  after(async () => {
    await c.cleanup();
  });

  test('secret objects: create, ls with filters, inspect without data, --pretty, labels-only update, 409, limits, rm', async () => {
    const r = create('secret', ['--label', 'env=prod', 'db_password'], 'hunter2');
    assert.equal(r.status, 0, r.stderr);
    const id = r.stdout.trim();
    assert.match(id, /^[0-9a-z]{25}$/);
    assert.equal(create('secret', ['other.secret'], 'x').status, 0);
    assert.equal(m.dockerOk(['secret', 'ls', '--format', '{{.Name}}']).trim(), 'db_password\nother.secret');
    assert.equal(m.dockerOk(['secret', 'ls', '--filter', 'label=env=prod', '--format', '{{.Name}}']).trim(), 'db_password');
    assert.equal(m.dockerOk(['secret', 'ls', '--filter', 'name=other', '--format', '{{.Name}}']).trim(), 'other.secret');
    assert.equal(m.dockerOk(['secret', 'ls', '--filter', `id=${id.slice(0, 6)}`, '-q']).trim(), id);
    const ins = JSON.parse(m.dockerOk(['secret', 'inspect', 'db_password']))[0];
    assert.equal(ins.ID, id);
    assert.deepEqual(ins.Spec, { Name: 'db_password', Labels: { env: 'prod' } }, 'no Data, ever');
    assert.match(ins.CreatedAt, /^\d{4}-\d\d-\d\dT/);
    const pretty = m.dockerOk(['secret', 'inspect', '--pretty', id]);
    assert.match(pretty, /^ID:\s+\S+\nName:\s+db_password\n/);
    assert.match(pretty, /Labels:\n\s+- env=prod/);
    assert.doesNotMatch(pretty, /hunter2/);
    // the API shows no data either, on list and inspect
    const list = await m.daemon.api<{ Spec: Record<string, unknown> }[]>('GET', `${V}/secrets`);
    assert.ok(list.body.every((s) => !('Data' in s.Spec)));

    // labels only: a label change is taken, a data change refused with swarmkit's text
    const upd = await m.daemon.api('POST', `${V}/secrets/${id}/update?version=${ins.Version.Index}`, { Name: 'db_password', Labels: { env: 'dev' } });
    assert.equal(upd.status, 200, JSON.stringify(upd.body));
    const after1 = JSON.parse(m.dockerOk(['secret', 'inspect', id]))[0];
    assert.deepEqual(after1.Spec.Labels, { env: 'dev' });
    assert.ok(after1.Version.Index > ins.Version.Index);
    const bad = await m.daemon.api<{ message: string }>('POST', `${V}/secrets/${id}/update?version=${after1.Version.Index}`, { Name: 'db_password', Data: Buffer.from('new').toString('base64') });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.message, 'rpc error: code = InvalidArgument desc = only updates to Labels are allowed');
    const stale = await m.daemon.api<{ message: string }>('POST', `${V}/secrets/${id}/update?version=${ins.Version.Index}`, { Name: 'db_password', Labels: {} });
    assert.match(stale.body.message, /update out of sequence/);

    // name conflict (409), size limit, bad names, unknown filter
    const dup = create('secret', ['db_password'], 'again');
    assert.notEqual(dup.status, 0);
    assert.match(dup.stderr, /Error response from daemon: rpc error: code = AlreadyExists desc = secret db_password already exists/);
    const dupApi = await m.daemon.api('POST', `${V}/secrets/create`, { Name: 'db_password', Data: 'eA==' });
    assert.equal(dupApi.status, 409);
    const big = create('secret', ['big'], 'x'.repeat(500 * 1024));
    assert.match(big.stderr, /rpc error: code = InvalidArgument desc = secret data must be larger than 0 and less than 512000 bytes/);
    assert.equal(create('secret', ['almost_big'], 'x'.repeat(500 * 1024 - 1)).status, 0, 'one byte under the limit is fine');
    const badName = await m.daemon.api<{ message: string }>('POST', `${V}/secrets/create`, { Name: 'bad/name', Data: 'eA==' });
    assert.equal(badName.status, 400);
    assert.match(badName.body.message, /invalid name, only 64 \[a-zA-Z0-9-_.\] characters allowed, and the start and end character must be \[a-zA-Z0-9\]/);
    const badFilter = m.docker(['secret', 'ls', '--filter', 'driver=x']);
    assert.match(badFilter.stderr, /invalid filter 'driver'/);

    // rm by name, by ID; a missing one is Docker's 404 text
    m.dockerOk(['secret', 'rm', 'other.secret', 'almost_big']);
    const gone = m.docker(['secret', 'inspect', 'other.secret']);
    assert.notEqual(gone.status, 0);
    assert.match(gone.stderr, /secret other.secret not found|No such secret: other.secret/);
    assert.equal(m.dockerOk(['secret', 'ls', '-q']).trim(), id);
  });

  test('config objects: data shown as Docker shows it, template driver kept, size limit', () => {
    const id = create('config', ['--label', 'a=1', 'app_conf'], 'port=80\n').stdout.trim();
    assert.match(id, /^[0-9a-z]{25}$/);
    const ins = JSON.parse(m.dockerOk(['config', 'inspect', 'app_conf']))[0];
    assert.equal(Buffer.from(ins.Spec.Data, 'base64').toString(), 'port=80\n');
    assert.deepEqual(ins.Spec.Labels, { a: '1' });
    assert.match(m.dockerOk(['config', 'inspect', '--pretty', 'app_conf']), /Data:\nport=80/);
    const tpl = create('config', ['--template-driver', 'golang', 'tpl_conf'], 'svc={{ .Service.Name }} slot={{ .Task.Slot }} host={{ .Node.Hostname }} foo={{ env "FOO" }} pw={{ secret "db_password" }}\n');
    assert.equal(tpl.status, 0, tpl.stderr);
    assert.deepEqual(JSON.parse(m.dockerOk(['config', 'inspect', 'tpl_conf']))[0].Spec.Templating, { Name: 'golang' });
    assert.match(m.dockerOk(['config', 'ls', '--format', '{{.Name}}']), /^app_conf\ntpl_conf$/m);
    const big = create('config', ['big'], 'x'.repeat(1000 * 1024));
    assert.match(big.stderr, /config data must be larger than 0 and less than 1024000 bytes/);
    const largest = create('config', ['largest'], 'x'.repeat(1000 * 1024 - 1));
    assert.equal(largest.status, 0, `one byte under the limit fits a Raft entry: ${largest.stderr}`);
    m.dockerOk(['config', 'rm', 'largest']);
    const dup = create('config', ['app_conf'], 'y');
    assert.match(dup.stderr, /config app_conf already exists/);
  });

  test('a service reads its secrets and templated config; rm refused while in use; a missing secret refused', async () => {
    const missing = m.docker(['service', 'create', '-d', '--name', 'nope', '--secret', 'no_such', 'busybox', NODE, '-e', '1']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /secret not found: no_such/);
    // the CLI resolved the name itself; an API client naming a wrong ID gets swarmkit's text
    const raw = await m.daemon.api<{ message: string }>('POST', `${V}/services/create`, {
      Name: 'rawref',
      TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: [NODE, '-e', '1'], Secrets: [{ SecretID: 'zzz', SecretName: 'ghost', File: { Name: 'ghost' } }] } },
    });
    assert.equal(raw.status, 400);
    assert.equal(raw.body.message, 'rpc error: code = InvalidArgument desc = secret not found: ghost');

    m.dockerOk([
      'service', 'create', '-d', '--name', 'app', '--env', 'FOO=bar',
      '--secret', 'db_password',
      '--secret', 'source=db_password,target=pw_private,mode=0400',
      '--config', 'source=tpl_conf,target=/etc/app.conf',
      'busybox', NODE, '-e', REPORT,
    ]);
    const r = await runningReport(c, 'app');
    assert.equal(r.files, 'db_password:444:hunter2,pw_private:400:hunter2');
    assert.equal(r.conf, `svc=app slot=1 host=${m.hostname} foo=bar pw=hunter2`);
    assert.equal(r.dirmode, '700', 'a private directory per task');
    assert.ok(!r.dir.startsWith(m.daemon.dataDir), 'not under the data dir');
    assert.ok(fs.existsSync(r.dir));

    const rm = m.docker(['secret', 'rm', 'db_password']);
    assert.notEqual(rm.status, 0);
    assert.match(rm.stderr, /rpc error: code = InvalidArgument desc = secret 'db_password' is in use by the following service: app/);
    const rmc = m.docker(['config', 'rm', 'tpl_conf']);
    assert.match(rmc.stderr, /config 'tpl_conf' is in use by the following service: app/);

    // nothing of the secret in the worker's state or the task's state files
    for (const f of [`${m.daemon.dataDir}/worker/tasks.json`, `${m.daemon.dataDir}/tasks/${r.task}/state.json`]) {
      assert.ok(!fs.readFileSync(f, 'utf8').includes('hunter2'), f);
    }
  });

  test('--secret-add and --secret-rm roll the tasks: the file appears, then disappears; the old task dir goes', async () => {
    assert.equal(create('secret', ['api_key'], 'k-123').status, 0);
    const before = await runningReport(c, 'app');
    m.dockerOk(['service', 'update', '-d', '--secret-add', 'api_key', 'app']);
    const added = await waitFor(async () => {
      const r = await runningReport(c, 'app');
      return r.task !== before.task ? r : undefined;
    }, 40_000, 'app rolled with api_key');
    assert.equal(added.files, 'api_key:444:k-123,db_password:444:hunter2,pw_private:400:hunter2');
    await waitFor(() => !fs.existsSync(before.dir), 20_000, "the replaced task's secret dir removed");

    m.dockerOk(['service', 'update', '-d', '--secret-rm', 'api_key', 'app']);
    const removed = await waitFor(async () => {
      const r = await runningReport(c, 'app');
      return r.task !== added.task ? r : undefined;
    }, 40_000, 'app rolled without api_key');
    assert.equal(removed.files, 'db_password:444:hunter2,pw_private:400:hunter2');
    m.dockerOk(['secret', 'rm', 'api_key'], {});

    m.dockerOk(['service', 'rm', 'app']);
    await waitFor(() => !fs.existsSync(removed.dir), 20_000, 'the task dir removed with the service');
    await waitFor(() => m.docker(['secret', 'rm', 'db_password']).status === 0, 20_000, 'db_password removable once no service uses it');
  });

  test('a template that cannot be rendered rejects the task with the reason', async () => {
    assert.equal(create('config', ['--template-driver', 'golang', 'bad_tpl'], '{{ if .Service.Name }}x{{ end }}').status, 0);
    m.dockerOk(['service', 'create', '-d', '--name', 'badtpl', '--restart-condition', 'none', '--config', 'source=bad_tpl,target=/x', 'busybox', NODE, '-e', '1']);
    const t = await waitFor(async () => (await c.tasks({ service: ['badtpl'] })).find((x) => x.Status.State === 'rejected'), 30_000, 'badtpl rejected');
    assert.match(t.Status.Err ?? '', /template: expansion: unsupported action \{\{if \.Service\.Name\}\}/);
    m.dockerOk(['service', 'rm', 'badtpl']);
  });
});

describe('secrets and configs (docker runtime: files at /run/secrets)', { concurrency: false, timeout: 120_000, ...engineTestOptions() }, () => {
  let c: TestCluster;
  let engineHost = '';
  const engineDocker = (args: string[]) => spawnSync('docker', ['-H', engineHost, ...args], { encoding: 'utf8' });
  before(async () => {
    const e = requireEngine();
    engineHost = e.host;
    c = new TestCluster({ workers: 0, runtime: 'docker', engine: e.host, hostPrefix: 'secd' });
    await c.start();
  });
  after(async () => {
    await c?.cleanup();
  });

  test('docker exec cat /run/secrets/<target>: read-only, uid/gid/mode, config at its target, templated', async () => {
    const { image } = requireEngine();
    const m = c.manager;
    assert.equal(m.daemon.docker(['secret', 'create', 'site_key', '-'], { input: 's3cr3t-key' }).status, 0);
    assert.equal(m.daemon.docker(['config', 'create', '--template-driver', 'golang', 'site_conf', '-'], { input: 'name={{ .Service.Name }} node={{ .Node.ID }}' }).status, 0);
    m.dockerOk(['service', 'create', '-d', '--name', 'site', '--secret', 'site_key', '--secret', 'source=site_key,target=k2,uid=1000,gid=1001,mode=0440', '--config', 'source=site_conf,target=/etc/site.conf', image, 'sleep', '300']);
    const task = await waitFor(async () => (await c.running('site'))[0], 60_000, 'site running');
    const full = await m.daemon.api<{ Status: { ContainerStatus: { ContainerID: string } } }>('GET', `${V}/tasks/${task.ID}`);
    const cid = full.body.Status.ContainerStatus.ContainerID;
    const cat = engineDocker(['exec', cid, 'cat', '/run/secrets/site_key']);
    assert.equal(cat.status, 0, cat.stderr);
    assert.equal(cat.stdout, 's3cr3t-key');
    const ls = engineDocker(['exec', cid, 'ls', '-ln', '/run/secrets']).stdout;
    const modes = [...ls.matchAll(/^(\S+)\s+\d+\s+(\d+)\s+(\d+)\s+\d+\s.*\s(\S+)$/gm)].map((x) => `${x[4]} ${x[1]} ${x[2]}:${x[3]}`);
    assert.deepEqual(modes, ['k2 -r--r----- 1000:1001', 'site_key -r--r--r-- 0:0'], ls);
    assert.equal(engineDocker(['exec', cid, 'cat', '/etc/site.conf']).stdout, `name=site node=${m.nodeId}`);
    const write = engineDocker(['exec', cid, 'sh', '-c', 'echo x > /run/secrets/site_key']);
    assert.notEqual(write.status, 0);
    assert.match(write.stderr, /Read-only file system/);
    assert.match(engineDocker(['exec', cid, 'sh', '-c', 'grep " /run/secrets/site_key " /proc/mounts']).stdout, /^tmpfs \/run\/secrets\/site_key tmpfs ro,/, 'memory-backed');
    m.dockerOk(['service', 'rm', 'site']);
  });
});
