// `shoal service|node|stack` listings, pretty inspects, progress output and logs (bin/shoal.js, a
// separate process) against a real Shoal daemon on the process runtime, compared line by line with
// the real docker CLI's output for the same cluster state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestDaemon, dockerAvailable, freePort, runDocker, waitFor } from '../harness/daemon';
import { runShoal, sameAsDocker, shoalOk } from '../harness/shoal-cli';

const HAVE_DOCKER = dockerAvailable();
const NO_DOCKER = 'the docker CLI is not installed (CI has it at /usr/local/bin/docker)';

let d: TestDaemon;
const ok = (args: string[], timeoutMs?: number) => shoalOk(d.host, args, { timeoutMs });

/**
 * What may tick between the two runs: relative times ("Running 5 seconds ago"), and with them the
 * widths of the CURRENT STATE column (its header's gap and the padding after the text).
 */
const ticks = (x: string) =>
  x
    .replace(/(Less than a second|\d+ seconds?|About a minute|\d+ minutes) ago */gi, '<ago> ')
    .replace(/CURRENT STATE +ERROR/, 'CURRENT STATE <gap> ERROR');
const same = (args: string[]) => sameAsDocker(d.host, args, { norm: ticks });

const LOOP = 'while true; do echo tick $$; sleep 1; done';

before(async () => {
  d = new TestDaemon({ hostname: 'cli-swarm-node' });
  await d.start();
  const port = await freePort();
  ok(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${port}`]);
});

after(async () => {
  await d?.cleanup();
});

/** Every service's wanted tasks run. */
async function settled(): Promise<void> {
  await waitFor(
    async () => {
      const r = await d.api<{ Spec: { Name: string }; ServiceStatus?: { RunningTasks: number; DesiredTasks: number } }[]>('GET', '/v1.47/services?status=true');
      return r.body.every((s) => s.ServiceStatus && s.ServiceStatus.RunningTasks === s.ServiceStatus.DesiredTasks);
    },
    60_000,
    'every service running',
  );
}

test('service and node listings, formats, filters and pretty inspects match the docker CLI', { skip: !HAVE_DOCKER && NO_DOCKER }, async () => {
  ok(['service', 'create', '-d', '--name', 'web-10', '--replicas', '2', '--label', 'tier=front', '-p', '8080:80', '-p', '8081:81', '--limit-cpu', '0.5', '--reserve-memory', '16M', '--env', 'A=1', 'busybox', 'sh', '-c', LOOP]);
  ok(['service', 'create', '-d', '--name', 'web-9', '--mode', 'global', '--constraint', 'node.role==manager', '--update-delay', '2s', 'busybox', 'sleep', '1000']);
  ok(['node', 'update', '--label-add', 'zone=eu', '--label-add', 'ssd', 'self']);
  await settled();

  const ls = same(['service', 'ls']);
  // Natural order (web-9 before web-10) and grouped port ranges.
  assert.match(ls.stdout, /^ID +NAME +MODE +REPLICAS +IMAGE +PORTS\n\w{12} +web-9 +global +1\/1 +busybox +\n\w{12} +web-10 +replicated +2\/2 +busybox +\*:8080-8081->80-81\/tcp\n$/);
  same(['service', 'ls', '-q']);
  same(['service', 'ls', '--format', 'json']);
  same(['service', 'ls', '--format', 'table {{.Name}}\t{{.Replicas}}\t{{.Ports}}']);
  same(['service', 'ls', '--filter', 'label=tier=front', '--format', '{{.ID}} {{.Name}} {{.Mode}} {{if .Ports}}published{{else}}none{{end}}']);
  same(['service', 'ls', '--filter', 'mode=global', '-q']);

  same(['service', 'ps', 'web-10', 'web-9']);
  same(['service', 'ps', '-q', 'web-10']);
  same(['service', 'ps', '--no-trunc', '--no-resolve', 'web-10']);
  same(['service', 'ps', '--format', '{{.Name}} {{.Node}} {{.DesiredState}}', '--filter', 'desired-state=running', 'web-10']);
  same(['service', 'ps', 'nope', 'web-9']);
  same(['service', 'ps', 'nope']);

  same(['service', 'inspect', '--pretty', 'web-10', 'web-9']);
  same(['service', 'inspect', '--format', '{{.Spec.Name}} {{json .Spec.Labels}} {{.Spec.UpdateConfig.Order}}', 'web-10', 'nope']);
  same(['service', 'inspect', 'nope']);

  const nodeLs = same(['node', 'ls']);
  assert.match(nodeLs.stdout, /^ID +HOSTNAME +STATUS +AVAILABILITY +MANAGER STATUS +ENGINE VERSION\n\w{25} \* +cli-swarm-node +Ready +Active +Leader +\S+\n$/);
  same(['node', 'ls', '-q']);
  same(['node', 'ls', '--format', 'json']);
  same(['node', 'ls', '--format', 'table {{.Hostname}}\t{{.TLSStatus}}\t{{.Self}}', '--filter', 'role=manager']);
  same(['node', 'ls', '--filter', 'role=worker']);
  same(['node', 'ps']);
  same(['node', 'ps', '-q', 'self']);
  same(['node', 'ps', '--format', '{{.Name}}\t{{.Image}}', '--filter', 'name=web-10']);
  same(['node', 'ps', 'self', 'nope']);
  same(['node', 'inspect', '--pretty', 'self']);
  same(['node', 'inspect', '--format', '{{.Description.Hostname}} {{json .Spec.Labels}}', 'self']);
});

test('stack ls, ps and services match the docker CLI', { skip: !HAVE_DOCKER && NO_DOCKER }, async () => {
  const file = path.join(d.dataDir, 'stack.yml');
  fs.writeFileSync(
    file,
    ['services:', '  api:', '    image: busybox', '    command: ["sleep", "1000"]', '    deploy:', '      replicas: 2', '  db:', '    image: busybox', '    command: ["sleep", "1000"]', ''].join('\n'),
  );
  ok(['stack', 'deploy', '-c', file, 'shop']);
  ok(['stack', 'deploy', '-c', file, 'shop-2']);
  await settled();
  const ls = same(['stack', 'ls']);
  assert.equal(ls.stdout, 'NAME      SERVICES\nshop      2\nshop-2    2\n');
  same(['stack', 'ls', '--format', '{{.Name}}: {{.Services}}']);
  same(['stack', 'ls', '--format', 'json']);
  same(['stack', 'services', 'shop']);
  same(['stack', 'services', '-q', 'shop']);
  same(['stack', 'services', '--filter', 'name=shop_api', '--format', 'table {{.Name}}\t{{.Replicas}}', 'shop']);
  same(['stack', 'services', 'nothing']);
  same(['stack', 'ps', 'shop']);
  // Unlike `service ps -q`, `stack ps -q` prints short IDs.
  assert.match(same(['stack', 'ps', '-q', 'shop']).stdout, /^(\w{12}\n){3}$/);
  same(['stack', 'ps', '--no-trunc', '--format', '{{.ID}} {{.Name}} {{.CurrentState}}', 'shop']);
  same(['stack', 'ps', '--filter', 'desired-state=shutdown', 'shop']);
  same(['stack', 'ps', 'nothing']);
  ok(['stack', 'rm', 'shop', 'shop-2']);
});

/**
 * The progress lines in a form that does not depend on poll timing: repeated lines once, the
 * counts polls saw on the way (which ones depends on when they ran: a first poll may already see
 * every task running) left out but for the opening "0 out of N" and the final "N out of N", and the
 * name of the service the final line names replaced.
 */
function progressShape(out: string, ref: string): string[] {
  const lines = out.split('\n').map((l) => l.replace(`Service ${ref} converged`, 'Service <ref> converged'));
  const seen = new Set<string>();
  const kept = lines.filter((l) => {
    const m = /^overall progress: (?:rolling back update: )?(\d+) out of (\d+) tasks$/.exec(l);
    const keep = !m || (m[1] === '0' && !seen.has(l)) || m[1] === m[2];
    seen.add(l);
    return keep;
  });
  return kept.filter((l, i) => l !== kept[i - 1]);
}

test('create, update and rollback print the docker CLI progress when not on a terminal', { skip: !HAVE_DOCKER && NO_DOCKER }, () => {
  const flags = ['--replicas', '3', '--update-monitor', '1s', '--update-parallelism', '2', 'busybox', 'sleep', '1000'];
  const s = runShoal(d.host, ['service', 'create', '--name', 'prog-s', ...flags], { timeoutMs: 120_000 });
  const k = runDocker(d.host, ['service', 'create', '--name', 'prog-d', ...flags], { timeoutMs: 120_000 });
  assert.equal(s.status, 0, s.stderr);
  assert.equal(k.status, 0, k.stderr);
  const [sId, ...sRest] = s.stdout.split('\n');
  const [kId, ...kRest] = k.stdout.split('\n');
  assert.match(sId!, /^\w{25}$/);
  assert.deepEqual(progressShape(sRest.join('\n'), sId!), progressShape(kRest.join('\n'), kId!));
  assert.deepEqual(progressShape(sRest.join('\n'), sId!).slice(0, 5), ['overall progress: 0 out of 3 tasks', '1/3:  ', '2/3:  ', '3/3:  ', 'overall progress: 3 out of 3 tasks']);
  assert.match(s.stdout, /\nverify: Waiting 1 seconds to verify that tasks are stable\.\.\.\nverify: Service \w{25} converged\n$/);

  for (const args of [['update', '--env-add', 'X=1'], ['rollback']]) {
    const su = runShoal(d.host, ['service', ...args, 'prog-s'], { timeoutMs: 120_000 });
    const ku = runDocker(d.host, ['service', ...args, 'prog-d'], { timeoutMs: 120_000 });
    assert.equal(su.status, 0, su.stderr);
    assert.equal(ku.status, 0, ku.stderr);
    assert.deepEqual(progressShape(su.stdout.replace(/^prog-s\n/, ''), 'prog-s'), progressShape(ku.stdout.replace(/^prog-d\n/, ''), 'prog-d'), `${args[0]} progress`);
  }
  assert.match(runShoal(d.host, ['service', 'rollback', 'prog-s']).stdout, /^prog-s\nrollback: manually requested rollback\n/);
  // -q prints the name only; -d does not wait.
  assert.equal(ok(['service', 'update', '-q', '--env-add', 'Y=1', 'prog-s'], 120_000), 'prog-s\n');
  assert.equal(ok(['service', 'scale', '-d', 'prog-s=1']), 'prog-s scaled to 1\n');
});

test('service logs: prefixes, --no-task-ids, --raw, --tail and -f as the docker CLI prints them', { skip: !HAVE_DOCKER && NO_DOCKER }, async () => {
  await waitFor(() => runDocker(d.host, ['service', 'logs', '--tail', '1', 'web-10']).stdout.split('\n').length > 2, 30_000, 'web-10 has logged');
  // Lines of different tasks interleave as they arrive: compared as sorted sets.
  const sorted = (x: string) => x.split('\n').sort().join('\n');
  for (const extra of [[], ['--no-task-ids'], ['--raw'], ['--no-trunc']]) sameAsDocker(d.host, ['service', 'logs', '--tail', '1', ...extra, 'web-10'], { norm: sorted });
  const follow = runShoal(d.host, ['service', 'logs', '-f', '--tail', '0', 'web-10'], { timeoutMs: 8_000 });
  assert.match(follow.stdout, /^web-10\.[12]\.\w{12}@cli-swarm-node +\| tick \d+\n/, 'follow prints new lines as they come');
});
