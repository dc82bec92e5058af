// The engine passthrough: with --engine, non-swarm Engine API paths (/containers, /images, /exec,
// /volumes, …) reach the node's Docker Engine through the Shoal socket, so the docker CLI's
// container commands work on the task containers. Docker runtime; needs the CI engine
// (test/harness/engine.ts: skipped outside CI without one, failing in CI without one).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { TestDaemon, apiRequest, freePort, parseTable, runDocker, waitFor } from '../harness/daemon';
import { engineTestOptions, requireEngine, type TestEngine } from '../harness/engine';

interface TaskJson {
  ID: string;
  Slot?: number;
  ServiceID: string;
  NodeID?: string;
  DesiredState: string;
  Status: { State: string; ContainerStatus?: { ContainerID?: string } };
}

describe('engine passthrough through the Shoal socket (docker runtime)', { ...engineTestOptions(), concurrency: false }, () => {
  let engine: TestEngine;
  let d: TestDaemon;
  // The CI engine may be shared with other suites: every name here is unique to this run.
  const tag = randomBytes(3).toString('hex');
  const svc = `pt${tag}`;
  const quick = `ptq${tag}`;
  const volume = `ptvol${tag}`;
  let nodeId = '';
  let serviceId = '';

  const tasksOf = async (name: string): Promise<TaskJson[]> => {
    const r = await d.api<TaskJson[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [name] }))}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const running = async (name: string) => (await tasksOf(name)).filter((t) => t.Status.State === 'running' && t.DesiredState === 'running');
  /** The task containers of a service, as the engine itself lists them. */
  const engineContainers = (name: string): string[] => {
    const r = runDocker(engine.host, ['ps', '-aq', '--no-trunc', '--filter', `label=com.docker.swarm.service.name=${name}`]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };

  before(async () => {
    engine = requireEngine();
    d = new TestDaemon({ runtime: 'docker', engine: engine.host, hostname: 'shoal-pt' });
    await d.start();
    const port = await freePort();
    d.dockerOk(['swarm', 'init', '--advertise-addr', `127.0.0.1:${port}`, '--listen-addr', `127.0.0.1:${port}`]);
    nodeId = d.dockerOk(['info', '--format', '{{.Swarm.NodeID}}']).trim();
    serviceId = d.dockerOk(['service', 'create', '--detach', '--name', svc, '--replicas', '2', '--stop-grace-period', '1s', engine.image, 'sleep', '1000']).trim();
    await waitFor(async () => (await running(svc)).length === 2, 60_000, `${svc} running`);
  });

  after(async () => {
    if (!d) return;
    const ls = d.docker(['service', 'ls', '-q']).stdout.trim();
    if (ls) d.docker(['service', 'rm', ...ls.split('\n')]);
    await waitFor(() => engineContainers(svc).length === 0 && engineContainers(quick).length === 0, 30_000, 'task containers removed').catch(() => undefined);
    runDocker(engine.host, ['volume', 'rm', '-f', volume]);
    d.docker(['swarm', 'leave', '--force']);
    await d.cleanup();
  });

  test('docker ps shows the task containers with their swarm names and labels', async () => {
    const tasks = await running(svc);
    const out = d.dockerOk(['ps', '--no-trunc', '--filter', `label=com.docker.swarm.service.name=${svc}`, '--format', '{{.ID}}\t{{.Names}}\t{{.Image}}']);
    const rows = out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'));
    assert.equal(rows.length, 2, out);
    for (const t of tasks) {
      const row = rows.find((r) => r[0] === t.Status.ContainerStatus?.ContainerID);
      assert.ok(row, `container of task ${t.ID} listed: ${out}`);
      assert.equal(row[1], `${svc}.${t.Slot}.${t.ID}`);
      assert.equal(row[2], engine.image);
      const labels = JSON.parse(d.dockerOk(['inspect', '--format', '{{json .Config.Labels}}', row[0]!])) as Record<string, string>;
      assert.equal(labels['com.docker.swarm.service.id'], serviceId);
      assert.equal(labels['com.docker.swarm.service.name'], svc);
      assert.equal(labels['com.docker.swarm.task.id'], t.ID);
      assert.equal(labels['com.docker.swarm.task.name'], `${svc}.${t.Slot}.${t.ID}`);
      assert.equal(labels['com.docker.swarm.node.id'], nodeId);
    }
    // The table form too: the NAMES column is what a person reads.
    const table = parseTable(d.dockerOk(['ps', '--filter', `label=com.docker.swarm.service.name=${svc}`]));
    assert.deepEqual(table.map((r) => r.NAMES!.split('.').slice(0, 2).join('.')).sort(), [`${svc}.1`, `${svc}.2`]);
  });

  test("docker inspect of a task container: its ID is the task's ContainerStatus.ContainerID", async () => {
    for (const t of await running(svc)) {
      const cid = t.Status.ContainerStatus?.ContainerID;
      assert.match(cid ?? '', /^[0-9a-f]{64}$/, 'the engine container ID, not a made-up one');
      const [ins] = JSON.parse(d.dockerOk(['inspect', cid!.slice(0, 12)])) as { Id: string; State: { Running: boolean }; Name: string }[];
      assert.equal(ins!.Id, cid);
      assert.equal(ins!.State.Running, true);
      assert.equal(ins!.Name, `/${svc}.${t.Slot}.${t.ID}`);
    }
    assert.deepEqual(engineContainers(svc).sort(), (await running(svc)).map((t) => t.Status.ContainerStatus!.ContainerID!).sort(), 'the engine has exactly these containers');
  });

  test('docker exec runs in a task container; -i passes stdin and its end (half-close)', async () => {
    const [t] = await running(svc);
    const name = `${svc}.${t!.Slot}.${t!.ID}`;
    const hi = d.docker(['exec', name, 'echo', 'hi'], { timeoutMs: 30_000 });
    assert.equal(hi.status, 0, hi.stderr);
    assert.equal(hi.stdout, 'hi\n');
    const input = 'first line\nsecond line\n';
    const cat = d.docker(['exec', '-i', name, 'cat'], { input, timeoutMs: 30_000 });
    assert.equal(cat.status, 0, `cat must end when stdin ends: ${cat.stderr}`);
    assert.equal(cat.stdout, input);
    const wc = d.docker(['exec', '-i', name, 'sh', '-c', 'cat >/tmp/got; echo stderr-side >&2; exit 7'], {
      input: 'x'.repeat(200_000),
      timeoutMs: 30_000,
    });
    assert.equal(wc.status, 7, `the exit code passes through: ${wc.stderr}`);
    assert.match(wc.stderr, /stderr-side/);
    const size = d.docker(['exec', name, 'sh', '-c', 'ls -l /tmp/got'], { timeoutMs: 30_000 });
    assert.match(size.stdout, /\b200000\b/, 'every stdin byte arrived before the close');
  });

  test('docker service create without --detach returns once converged; no registry: the tag is kept, with Docker\'s warning', async () => {
    const r = d.docker(['service', 'create', '--name', quick, '--stop-grace-period', '1s', engine.image, 'sleep', '1000'], { timeoutMs: 90_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /verify: Service (\S+) converged/);
    // The test image exists only in the engine (imported, never pushed): dockerd's registry look-up
    // fails, so the CLI warns and keeps the tag; a local image ID must never be pinned as a digest.
    assert.ok(r.stderr.includes(`image ${engine.image} could not be accessed on a registry to record`), r.stderr);
    const imageId = JSON.parse(d.dockerOk(['image', 'inspect', '--format', '{{json .Id}}', engine.image])) as string;
    const specImage = d.dockerOk(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', quick]).trim();
    assert.equal(specImage, engine.image, 'no digest pinned');
    const [t] = await running(quick);
    assert.ok(t, 'task running');
    const ins = JSON.parse(d.dockerOk(['inspect', t.Status.ContainerStatus!.ContainerID!]))[0] as { Image: string; Config: { Image: string } };
    assert.equal(ins.Image, imageId, 'the container runs the local image');
    assert.equal(ins.Config.Image, engine.image);
  });

  test("GET /distribution/{name}/json is the engine's own registry answer, never the local image ID", async () => {
    const path = `/distribution/${encodeURIComponent(engine.image)}/json`;
    const ours = await d.api<{ message?: string; Descriptor?: { digest: string } }>('GET', `/v1.47${path}`);
    const direct = await apiRequest<{ message?: string; Descriptor?: { digest: string } }>(engine.host.replace(/^unix:\/\//, ''), 'GET', path);
    assert.equal(ours.status, direct.status, JSON.stringify({ ours: ours.body, direct: direct.body }));
    assert.deepEqual(ours.body, direct.body);
    const imageId = JSON.parse(d.dockerOk(['image', 'inspect', '--format', '{{json .Id}}', engine.image])) as string;
    assert.notEqual(ours.body.Descriptor?.digest, imageId);
  });

  test('docker images, docker volume create/ls/rm, docker logs pass through', async () => {
    const images = parseTable(d.dockerOk(['images']));
    const [repo, tagName] = engine.image.split(':');
    assert.ok(
      images.some((r) => r.REPOSITORY === repo && r.TAG === (tagName ?? 'latest')),
      JSON.stringify(images),
    );
    d.dockerOk(['volume', 'create', volume]);
    const vols = d.dockerOk(['volume', 'ls', '--format', '{{.Name}}']).split('\n');
    assert.ok(vols.includes(volume));
    assert.equal(runDocker(engine.host, ['volume', 'inspect', '--format', '{{.Name}}', volume]).stdout.trim(), volume, 'created in the engine');
    d.dockerOk(['volume', 'rm', volume]);
    assert.ok(!d.dockerOk(['volume', 'ls', '--format', '{{.Name}}']).split('\n').includes(volume));
    const [t] = await running(svc);
    d.dockerOk(['exec', t!.Status.ContainerStatus!.ContainerID!, 'sh', '-c', 'echo via-exec > /proc/1/fd/1']);
    const logs = await waitFor(() => {
      const out = d.docker(['logs', t!.Status.ContainerStatus!.ContainerID!]);
      return out.stdout.includes('via-exec') ? out : undefined;
    }, 10_000, 'container log line');
    assert.equal(logs.status, 0);
  });

  test('docker events --filter type=service shows create, update and remove of a service', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const name = `ptev${tag}`;
    const id = d.dockerOk(['service', 'create', '--detach', '--name', name, engine.image, 'sleep', '1000']).trim();
    d.dockerOk(['service', 'update', '--detach', '--env-add', 'A=1', name]);
    d.dockerOk(['service', 'rm', name]);
    const until = Math.floor(Date.now() / 1000) + 1;
    await waitFor(() => Date.now() / 1000 > until, 5_000, 'the until second to pass');
    const r = d.docker(['events', '--filter', 'type=service', '--since', String(since), '--until', String(until), '--format', '{{json .}}'], { timeoutMs: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    const evs = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> }; scope: string })
      .filter((e) => e.Actor.ID === id);
    const actions = evs.map((e) => e.Action);
    assert.equal(actions[0], 'create', JSON.stringify(actions));
    assert.ok(actions.includes('update'), JSON.stringify(actions));
    assert.equal(actions[actions.length - 1], 'remove', JSON.stringify(actions));
    for (const e of evs) {
      assert.equal(e.Type, 'service');
      assert.equal(e.scope, 'swarm');
      assert.equal(e.Actor.Attributes.name, name);
    }
  });
});
