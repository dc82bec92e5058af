import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { engineTestOptions, requireEngine } from '../../../../test/harness/engine';
import { httpGet } from '../../../../test/harness/probes';
import { EngineClient } from '../../../engine';
import { isKind } from '../../../lib/errors';
import type { ContainerSpec, Task } from '../../../types';
import { collect, makeTask, text, until } from '../testing/testutil';
import type { TaskController } from '../types';
import { DockerExecutor } from './executor';
import { containerEndpoints } from './networking';
import { containerConfig, containerName, extraHosts, hostPortBindings, LABEL_TASK_ID, needsOwnResolvConf, publishedHostEndpoints, pullReference, taskResolvConf } from './spec';

describe('docker executor: task → container config (no engine)', () => {
  test('names, labels and the swarm Command/Args mapping', () => {
    const t = makeTask(
      {
        Image: 'img:1',
        Command: ['/bin/app'],
        Args: ['--x'],
        Env: ['A=1'],
        Dir: '/w',
        User: '1000',
        Hostname: 'h',
        Labels: { mine: 'yes' },
        TTY: true,
        OpenStdin: true,
        ReadOnly: true,
        StopSignal: 'SIGINT',
        StopGracePeriod: 7e9,
        Init: true,
        Mounts: [
          { Type: 'bind', Source: '/src', Target: '/dst', ReadOnly: true },
          { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024 } },
        ],
        HealthCheck: { Test: ['CMD', 'true'], Interval: 1e9, Retries: 2 },
        Sysctls: { 'net.core.somaxconn': '1024' },
        CapabilityAdd: ['NET_ADMIN'],
        CapabilityDrop: ['MKNOD'],
        Ulimits: [{ Name: 'nofile', Soft: 100, Hard: 200 }],
        Hosts: ['10.0.0.1 db db.local'],
      },
      { Slot: 3, ServiceID: 'svcid', NodeID: 'nodeid' },
    );
    t.Spec.Resources = { Limits: { NanoCPUs: 5e8, MemoryBytes: 64 << 20, Pids: 50 } };
    const name = containerName(t);
    assert.equal(name, `${t.internal.serviceName}.3.${t.ID}`);
    const cfg = containerConfig(t, { image: 'img:1' });
    assert.deepEqual(cfg.Entrypoint, ['/bin/app']);
    assert.deepEqual(cfg.Cmd, ['--x']);
    assert.equal(cfg.WorkingDir, '/w');
    assert.equal(cfg.StopTimeout, 7);
    assert.deepEqual(cfg.Labels, {
      mine: 'yes',
      'com.docker.swarm.service.id': 'svcid',
      'com.docker.swarm.service.name': t.internal.serviceName,
      'com.docker.swarm.task': '',
      'com.docker.swarm.task.id': t.ID,
      'com.docker.swarm.task.name': name,
      'com.docker.swarm.node.id': 'nodeid',
    });
    const hc = cfg.HostConfig ?? {};
    assert.equal(hc.NanoCpus, 5e8);
    assert.equal(hc.Memory, 64 << 20);
    assert.equal(hc.PidsLimit, 50);
    assert.equal(hc.ReadonlyRootfs, true);
    assert.equal(hc.Init, true);
    assert.deepEqual(hc.ExtraHosts, ['db:10.0.0.1', 'db.local:10.0.0.1']);
    assert.deepEqual(hc.Mounts?.[0], { Type: 'bind', Source: '/src', Target: '/dst', ReadOnly: true });
    assert.deepEqual(hc.CapAdd, ['NET_ADMIN']);
    assert.deepEqual(cfg.Healthcheck, { Test: ['CMD', 'true'], Interval: 1e9, Retries: 2 });
    assert.deepEqual(hc.RestartPolicy, { Name: 'no' });
    // Args alone feed the image's entrypoint
    const t2 = makeTask({ Image: 'i', Args: ['a'] });
    const c2 = containerConfig(t2, { image: 'i' });
    assert.equal(c2.Entrypoint, undefined);
    assert.deepEqual(c2.Cmd, ['a']);
    // global task: node ID instead of the slot
    const g = makeTask({ Image: 'i' }, { Slot: undefined, NodeID: 'n1' });
    assert.equal(containerName(g), `${g.internal.serviceName}.n1.${g.ID}`);
    assert.equal(extraHosts(undefined), undefined);
  });
});

test('what is pulled for an image reference: by digest when pinned, a tag, latest for a bare name, nothing for an ID', () => {
  const d = 'sha256:' + 'ab'.repeat(32);
  assert.deepEqual(pullReference(`127.0.0.1:5000/app:1@${d}`), { fromImage: '127.0.0.1:5000/app', tag: d });
  assert.deepEqual(pullReference(`127.0.0.1:5000/app@${d}`), { fromImage: '127.0.0.1:5000/app', tag: d });
  assert.deepEqual(pullReference('127.0.0.1:5000/app:1'), { fromImage: '127.0.0.1:5000/app', tag: '1' });
  assert.deepEqual(pullReference('127.0.0.1:5000/app'), { fromImage: '127.0.0.1:5000/app', tag: 'latest' });
  assert.deepEqual(pullReference('busybox'), { fromImage: 'busybox', tag: 'latest' });
  assert.equal(pullReference(d), undefined);
  assert.equal(pullReference('ab'.repeat(32)), undefined);
});

describe('docker executor: a task on swarm networks (no engine)', () => {
  test('the first network is the container\'s network mode with its allocated address, the egress network last; no networks: as before', () => {
    const net = (id: string, name: string) => ({ ID: id, Version: { Index: 1 }, CreatedAt: '', UpdatedAt: '', Spec: { Name: name, Labels: {}, Scope: 'swarm' as const }, DriverState: { Name: 'overlay', Options: {} }, IPAMOptions: { Driver: {} } });
    const attachments = [
      { Network: net('ing', 'ingress'), Addresses: ['10.0.0.5/24'] },
      { Network: net('app', 'app'), Addresses: ['10.0.1.7/24'] },
      { Network: net('gone', 'gone'), Addresses: ['10.0.2.7/24'] },
    ];
    const eps = containerEndpoints(attachments, { networks: new Map([['ing', 'ingress'], ['app', 'app']]), egress: 'docker_gwbridge' });
    assert.deepEqual(eps, [
      { network: 'ingress', ipv4: '10.0.0.5' },
      { network: 'app', ipv4: '10.0.1.7' },
      { network: 'docker_gwbridge' },
    ]);
    assert.deepEqual(containerEndpoints([], { networks: new Map() }), [], 'no swarm network: no network');
    // the network layer gives the egress network alone to a task that publishes host-mode ports
    assert.deepEqual(containerEndpoints([], { networks: new Map(), egress: 'docker_gwbridge' }), [{ network: 'docker_gwbridge' }]);
    const t = makeTask({ Image: 'i' });
    const cfg = containerConfig(t, { image: 'i', endpoints: eps });
    assert.equal(cfg.HostConfig?.NetworkMode, 'ingress');
    assert.deepEqual(cfg.NetworkingConfig, { EndpointsConfig: { ingress: { IPAMConfig: { IPv4Address: '10.0.0.5' } } } });
    const plain = containerConfig(t, { image: 'i', networkMode: 'none', endpoints: [] });
    assert.equal(plain.HostConfig?.NetworkMode, 'none');
    assert.equal(plain.NetworkingConfig, undefined);
  });
});

describe('docker executor: host-mode published ports and DNS behind the node (no engine)', () => {
  const hostTask = () => {
    const t = makeTask({ Image: 'i' });
    t.internal.ports = [
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' },
      { Protocol: 'udp', TargetPort: 53, PublishedPort: 0, PublishMode: 'host' },
      { Protocol: 'tcp', TargetPort: 81, PublishedPort: 30001, PublishMode: 'ingress' },
    ];
    return t;
  };

  test('host-mode ports are exposed and bound on every host address (no published port: the engine picks); ingress ones are not', () => {
    const t = hostTask();
    const cfg = containerConfig(t, { image: 'i' });
    assert.deepEqual(cfg.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
    assert.deepEqual(cfg.HostConfig?.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '', HostPort: '' }] });
    assert.equal(containerConfig(makeTask({ Image: 'i' }), { image: 'i' }).HostConfig?.PortBindings, undefined);
    assert.deepEqual(hostPortBindings(makeTask({ Image: 'i' })), undefined);
  });

  test('the ports the running container holds become the task\'s endpoints (IPv4 binding first), as service ps shows them', () => {
    const t = hostTask();
    const ins = {
      Id: 'c', Name: '/c', Image: 'i', State: { Status: 'running' as const, Running: true, Pid: 1, ExitCode: 0 }, Config: { Image: 'i' },
      NetworkSettings: { Ports: { '80/tcp': [{ HostIp: '::', HostPort: '8080' }, { HostIp: '0.0.0.0', HostPort: '8080' }], '53/udp': [{ HostIp: '0.0.0.0', HostPort: '32768' }], '81/tcp': null } },
    };
    assert.deepEqual(publishedHostEndpoints(t, ins), [
      { Protocol: 'tcp', TargetPort: 80, Port: 8080 },
      { Protocol: 'udp', TargetPort: 53, Port: 32768 },
    ]);
    assert.deepEqual(publishedHostEndpoints(t, { ...ins, NetworkSettings: { Ports: {} } }), [], 'not bound (yet): nothing');
  });

  test('behind the node\'s DNS the container\'s nameserver is the node, whatever --dns says; search and options stay the task\'s', () => {
    const t = makeTask({ Image: 'i', DNSConfig: { Nameservers: ['192.0.2.53'], Search: ['svc.example'], Options: ['ndots:3'] } });
    const hc = containerConfig(t, { image: 'i', nameserver: '10.0.1.2' }).HostConfig!;
    assert.deepEqual([hc.Dns, hc.DnsSearch, hc.DnsOptions], [['10.0.1.2'], ['svc.example'], ['ndots:3']]);
    assert.deepEqual(containerConfig(t, { image: 'i' }).HostConfig?.Dns, ['192.0.2.53'], 'no node DNS: the task\'s own servers');
    // a task that sets ndots gets its own resolv.conf (the engine's 127.0.0.11 would not forward `web`); others do not
    assert.equal(needsOwnResolvConf(t.Spec.ContainerSpec!.DNSConfig), true);
    assert.equal(needsOwnResolvConf({ Nameservers: ['192.0.2.53'], Search: ['svc.example'], Options: ['timeout:2'] }), false);
    assert.equal(needsOwnResolvConf(undefined), false);
    // with its own resolv.conf mounted the container asks the node itself; the engine settings show the spec's
    assert.equal(taskResolvConf('10.0.1.2', t.Spec.ContainerSpec!.DNSConfig), 'nameserver 10.0.1.2\nsearch svc.example\noptions ndots:3\n');
    assert.equal(taskResolvConf('10.0.1.2', undefined), 'nameserver 10.0.1.2\n');
    const mounted = containerConfig(t, { image: 'i', nameserver: '10.0.1.2', resolvConfPath: '/d/t/resolv.conf' }).HostConfig!;
    assert.deepEqual(mounted.Mounts, [{ Type: 'bind', Source: '/d/t/resolv.conf', Target: '/etc/resolv.conf' }]);
    assert.deepEqual(mounted.Dns, ['192.0.2.53']);
    const own = makeTask({ Image: 'i', Mounts: [{ Type: 'bind', Source: '/mine', Target: '/etc/resolv.conf' }] });
    assert.deepEqual(containerConfig(own, { image: 'i', resolvConfPath: '/d/t/resolv.conf' }).HostConfig?.Mounts?.map((x) => x.Source), ['/mine'], 'a resolv.conf the spec mounts wins');
  });
});

describe('docker executor against a real engine', engineTestOptions(), () => {
  let engine: EngineClient;
  let exec: DockerExecutor;
  let image: string;
  let imageId: string;
  const nodeId = 'shoaltestnode' + Math.random().toString(36).slice(2, 10);
  const controllers: TaskController[] = [];

  before(async () => {
    const e = requireEngine();
    image = e.image;
    engine = new EngineClient({ host: e.host });
    exec = new DockerExecutor({ engine, hostname: 'dockerhost', nodeId: () => nodeId, healthPollMs: 100 });
    imageId = (await engine.imageInspect(image)).Id;
  });

  after(async () => {
    for (const c of controllers) await c.remove().catch(() => undefined);
    await exec?.close();
    await engine?.close();
  });

  function task(spec: Partial<ContainerSpec>, over: Partial<Task> = {}): Task {
    return makeTask({ Image: image, ...spec }, { NodeID: nodeId, ...over });
  }

  async function started(t: Task): Promise<TaskController> {
    const c = exec.controller(t);
    controllers.push(c);
    await c.prepare();
    await c.start();
    return c;
  }

  test('create → start → wait: exit codes, name, labels, real container ID', async () => {
    const t = task({ Command: ['sh', '-c'], Args: ['echo hello; exit 0'], Labels: { 'user.label': 'x' } });
    const c = await started(t);
    assert.deepEqual(await c.wait(), { exitCode: 0 });
    const st = await c.inspect();
    assert.ok(st);
    assert.equal(st.running, false);
    assert.equal(st.exitCode, 0);
    const ins = await engine.containerInspect(st.containerId as string);
    assert.equal(ins.Name, `/${containerName(t)}`);
    assert.equal(ins.Config.Labels?.[LABEL_TASK_ID], t.ID);
    assert.equal(ins.Config.Labels?.['com.docker.swarm.node.id'], nodeId);
    assert.equal(ins.Config.Labels?.['user.label'], 'x');
    assert.deepEqual(ins.Config.Entrypoint, ['sh', '-c']);
    assert.ok((await exec.listTaskIds()).includes(t.ID));

    const c3 = await started(task({ Command: ['sh', '-c', 'exit 3'] }));
    assert.deepEqual(await c3.wait(), { exitCode: 3, error: 'task: non-zero exit (3)' });
  });

  test('a missing image is pulled with the task\'s credentials; a failed pull is reported and prepare fails "No such image"; prefer-offline never pulls', async () => {
    // nothing listens on loopback port 1: the engine's pull fails at once
    const ref = '127.0.0.1:1/shoal-none:1';
    const failures: string[] = [];
    const pulling = new DockerExecutor({ engine, hostname: 'dockerhost', nodeId: () => nodeId, onPullFailure: (r, err) => failures.push(`${r}: ${err.message}`) });
    const t = task({ Image: ref, PullOptions: { RegistryAuth: 'eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAifQ==' } });
    await assert.rejects(pulling.controller(t).prepare(), (e: unknown) => isKind(e, 'NotFound') && (e as Error).message === `No such image: ${ref}`);
    assert.equal(failures.length, 1);
    assert.ok(failures[0]!.startsWith(`${ref}: `) && failures[0]!.includes('127.0.0.1:1'), failures[0]);
    assert.equal(failures[0]!.includes('eyJ1c2VybmFtZSI'), false, 'no credentials in the report');

    const offline: string[] = [];
    const noPull = new DockerExecutor({ engine, hostname: 'dockerhost', nodeId: () => nodeId, pull: false, onPullFailure: (r) => offline.push(r) });
    await assert.rejects(noPull.controller(task({ Image: ref })).prepare(), (e: unknown) => isKind(e, 'NotFound') && (e as Error).message === `No such image: ${ref}`);
    assert.deepEqual(offline, [], 'no pull tried');
    // an image the engine has is used without a pull
    const have: string[] = [];
    const c = new DockerExecutor({ engine, hostname: 'dockerhost', nodeId: () => nodeId, onPullFailure: (r) => have.push(r) }).controller(task({ Command: ['true'] }));
    controllers.push(c);
    await c.prepare();
    assert.deepEqual(have, []);
  });

  test('prepare and start are idempotent; a finished container is not restarted', async () => {
    const t = task({ Command: ['sh', '-c', 'echo once'] });
    const c = await started(t);
    await c.prepare();
    await c.wait();
    await c.start();
    assert.equal((await c.inspect())?.running, false);
    assert.equal(text(await collect(c.logs({ follow: false, tail: 'all', timestamps: false }))), 'once\n');
  });

  test('wait before start waits for the start; an aborted wait rejects', async () => {
    const c = exec.controller(task({ Command: ['sh', '-c', 'exit 4'] }));
    controllers.push(c);
    await c.prepare();
    let settled = false;
    const w = c.wait().then((r) => {
      settled = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(settled, false, 'a created container has not exited');
    await c.start();
    assert.deepEqual(await w, { exitCode: 4, error: 'task: non-zero exit (4)' });

    const c2 = await started(task({ Command: ['sleep', '60'] }));
    const ac = new AbortController();
    const p = c2.wait(ac.signal);
    ac.abort();
    await assert.rejects(p, (e: Error) => e.name === 'AbortError');
    await c2.terminate();
  });

  test('a container killed behind our back: wait resolves with 137', async () => {
    const c = await started(task({ Command: ['sleep', '60'] }));
    const st = await c.inspect();
    assert.equal(st?.running, true);
    assert.ok(st?.pid && st.pid > 0);
    const waiting = c.wait();
    // kill the container's process directly, not through the engine
    process.kill(st?.pid as number, 'SIGKILL');
    assert.deepEqual(await waiting, { exitCode: 137, error: 'task: non-zero exit (137)' });
  });

  test('shutdown with grace: stop signal, then kill; terminate; remove', async () => {
    const c = await started(task({ Command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done'] }));
    await until(async () => (await c.inspect())?.running);
    await c.shutdown(10_000);
    assert.deepEqual(await c.wait(), { exitCode: 0 });

    const c2 = await started(task({ Command: ['sleep', '60'] }));
    await c2.terminate();
    assert.equal((await c2.wait()).exitCode, 137);
    await c2.remove();
    assert.equal(await c2.inspect(), undefined);
    await c2.remove(); // idempotent
  });

  test('shutdown without grace: a kill, resolved once the container stopped; gone or stopped already is no error', async () => {
    // it traps SIGTERM: a stop would let it exit 0 if the signal came first; a kill ends it with 137
    const c = await started(task({ Command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done'] }));
    await until(async () => (await c.inspect())?.running);
    await c.shutdown(0);
    const st = await c.inspect();
    assert.equal(st?.running, false, 'stopped when shutdown resolved');
    assert.equal(st?.exitCode, 137);
    await c.shutdown(0); // stopped already
    await c.remove();
    await c.shutdown(0); // gone
    assert.equal(await c.inspect(), undefined);
  });

  test('--dns, --dns-search, --dns-option reach the container’s resolv.conf, as Docker’s swarm executor passes them', async () => {
    const dns = { Nameservers: ['192.0.2.53'], Search: ['svc.example'], Options: ['ndots:3'] };
    const c = await started(task({ Command: ['cat', '/etc/resolv.conf'], DNSConfig: dns }));
    assert.deepEqual(await c.wait(), { exitCode: 0 });
    const conf = text(await collect(c.logs({ follow: false, tail: 'all', timestamps: false })));
    assert.match(conf, /^nameserver 192\.0\.2\.53$/m);
    assert.match(conf, /^search svc\.example$/m);
    assert.match(conf, /^options ndots:3$/m);
    const ins = await engine.containerInspect(((await c.inspect())?.containerId as string) ?? '');
    assert.deepEqual([ins.HostConfig?.Dns, ins.HostConfig?.DnsSearch, ins.HostConfig?.DnsOptions], [dns.Nameservers, dns.Search, dns.Options]);
  });

  test('host mode: the engine publishes the port on its host and inspect reports where (service ps PORTS)', async () => {
    // The CI engine runs --bridge=none: a bridge network of the test's own gives the container a way in.
    const netName = `shoal-hostports-${nodeId}`;
    await engine.networkCreate({ Name: netName, Driver: 'bridge', CheckDuplicate: true });
    const withNet = new DockerExecutor({ engine, hostname: 'dockerhost', nodeId: () => nodeId, networkMode: netName });
    try {
      const t = task({ Command: ['sh', '-c', 'mkdir -p /w && echo host-mode > /w/index.html && exec httpd -f -p 80 -h /w'] });
      t.internal.ports = [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 0, PublishMode: 'host' }];
      const c = withNet.controller(t);
      controllers.push(c);
      await c.prepare();
      await c.start();
      const rt = await until(async () => ((await c.inspect())?.endpoints?.length ? c.inspect() : undefined), 10_000, 'endpoints');
      const [ep] = rt.endpoints!;
      assert.equal(ep!.Protocol, 'tcp');
      assert.equal(ep!.TargetPort, 80);
      assert.ok(ep!.Port > 0, `engine-picked port ${ep!.Port}`);
      const body = await until(() => httpGet('127.0.0.1', ep!.Port).catch(() => ''), 10_000, `HTTP on 127.0.0.1:${ep!.Port}`);
      assert.equal(body, 'host-mode');
      await c.remove();
    } finally {
      await engine.networkRemove(netName).catch(() => undefined);
    }
  });

  test('logs: streams, times, tail, follow', async () => {
    const before = Date.now();
    const c = await started(task({ Command: ['sh', '-c', 'echo a; echo b >&2; sleep 0.2; echo c'] }));
    const followed = await collect(c.logs({ follow: true, tail: 'all', timestamps: true }));
    assert.deepEqual(
      followed.map((l) => `${l.stream}:${l.data.toString()}`).sort(),
      ['stderr:b\n', 'stdout:a\n', 'stdout:c\n'],
    );
    for (const l of followed) assert.ok(l.time >= before - 5000 && l.time <= Date.now() + 5000);
    const tail = await collect(c.logs({ follow: false, tail: 1, timestamps: false }));
    assert.equal(text(tail), 'c\n');
  });

  test('image by digest equal to the local image ID is used; a missing image fails like Docker', async () => {
    const digest = imageId; // sha256:<hex>
    const name = image.split(':')[0];
    const c = await started(task({ Image: `${name}@${digest}`, Command: ['true'] }));
    assert.equal((await c.wait()).exitCode, 0);
    const ins = await engine.containerInspect((await c.inspect())?.containerId as string);
    assert.equal(ins.Image, imageId);
    assert.equal(ins.Config.Image, imageId, 'created from the image ID (the name has no such tag)');

    const missing = exec.controller(task({ Image: 'shoal-missing-image:nope', Command: ['true'] }));
    controllers.push(missing);
    await assert.rejects(missing.prepare(), (e: unknown) => isKind(e, 'NotFound') && (e as Error).message === 'No such image: shoal-missing-image:nope');
    const wrongDigest = exec.controller(task({ Image: `${name}@sha256:${'0'.repeat(64)}`, Command: ['true'] }));
    controllers.push(wrongDigest);
    await assert.rejects(wrongDigest.prepare(), /No such image/);
  });

  test('health: engine health reaches onHealth and inspect', async () => {
    const c = await started(
      task({
        Command: ['sh', '-c', 'sleep 0.5; touch /tmp/ok; sleep 60'],
        HealthCheck: { Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 100e6, Timeout: 2e9, Retries: 100 },
      }),
    );
    const seen: string[] = [];
    const off = c.onHealth?.((h) => seen.push(h));
    await until(async () => (await c.inspect())?.health === 'healthy', 30_000, 'healthy');
    await until(() => seen.includes('healthy'), 30_000, 'onHealth healthy');
    assert.equal(seen[seen.length - 1], 'healthy');
    off?.();
    await c.terminate();
  });

  test('health: a listener that subscribes before the container exists (as the task manager does) sees it turn healthy', async () => {
    const c = exec.controller(
      task({
        Command: ['sh', '-c', 'sleep 0.3; touch /tmp/ok; sleep 60'],
        HealthCheck: { Test: ['CMD-SHELL', 'test -f /tmp/ok'], Interval: 100e6, Timeout: 2e9, Retries: 100 },
      }),
    );
    controllers.push(c);
    const seen: string[] = [];
    const off = c.onHealth?.((h) => seen.push(h));
    await c.prepare();
    await c.start();
    await until(() => seen.includes('healthy'), 30_000, 'onHealth healthy');
    off?.();
    await c.terminate();
  });

  test('health: no look-up while the controller makes its container run (prepare until the start answered), one after the start', async () => {
    let looks = 0;
    const counting = new (class extends EngineClient {
      override containerInspect(id: string) {
        looks++;
        return super.containerInspect(id);
      }
    })({ host: requireEngine().host });
    const ex = new DockerExecutor({ engine: counting, hostname: 'dockerhost', nodeId: () => nodeId, healthPollMs: 50 });
    const c = ex.controller(task({ Command: ['sleep', '60'] }));
    try {
      const off = c.onHealth?.(() => undefined);
      await c.prepare();
      // eight poll periods between the create and the start: a look here would only find it "created"
      // (or, during a slow start, wait in the engine behind it)
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(looks, 0, 'no look-up before the start');
      await c.start();
      await until(() => looks >= 1, 10_000, 'the look after the start');
      off?.();
    } finally {
      await c.remove().catch(() => undefined);
      await ex.close();
      await counting.close();
    }
  });

  test('a controller that created and started its container waits on it and reports it without extra look-ups', async () => {
    const t = task({ Command: ['sh', '-c', 'exit 4'] });
    const c = exec.controller(t);
    controllers.push(c);
    await c.prepare();
    const st = await c.inspect();
    assert.equal(st?.running, false);
    assert.match(st?.containerId ?? '', /^[0-9a-f]{64}$/);
    assert.equal((await engine.containerInspect(st!.containerId!)).State.Status, 'created');
    await c.start();
    assert.deepEqual(await c.wait(), { exitCode: 4, error: 'task: non-zero exit (4)' });
    // a second prepare of the same task finds the container (name conflict) instead of failing
    const again = exec.controller(t);
    await again.prepare();
    assert.equal((await again.inspect())?.exitCode, 4);
  });

  test('describe: engine facts with the daemon hostname', async () => {
    const d = await exec.describe();
    const info = await engine.info();
    assert.equal(d.hostname, 'dockerhost');
    assert.equal(d.nanoCPUs, info.NCPU * 1e9);
    assert.equal(d.memoryBytes, info.MemTotal);
    assert.equal(d.engineVersion, info.ServerVersion);
    assert.equal(d.os, 'linux');
    assert.equal(d.architecture, info.Architecture);
  });

  test('listTaskIds only sees this node’s containers', async () => {
    const mine = task({ Command: ['true'] });
    const other = task({ Command: ['true'] }, { NodeID: 'someothernode' });
    const a = exec.controller(mine);
    const b = exec.controller(other);
    controllers.push(a, b);
    await a.prepare();
    await b.prepare();
    const ids = await exec.listTaskIds();
    assert.ok(ids.includes(mine.ID));
    assert.ok(!ids.includes(other.ID));
  });
});
