// Where the time of B4 (kill 1 of 3 → replacement running) and of B2's scale-down (N → 0) goes, on one
// Shoal daemon (docker runtime) and its engine: what the store shows (GET /tasks polled every few ms, so
// each state is seen at most one poll after its write) beside what the engine did (its event stream, ns
// timestamps) and the agent's own status timestamps. Fast profile: restart delay 0, stop grace 0.
//
//   node dist/bench/trace-single-node.js [--reps 3] [--scale 20] [--poll-ms 2]
// Needs SHOAL_TEST_ENGINE / SHOAL_TEST_IMAGE (scripts/ci-engine.sh start). Prints one timeline per run
// (ms since the kill / the scale request) and the medians.
import http from 'node:http';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { TestDaemon } from '../test/harness/daemon';
import { engineReplaceFloor, engineStopFloor } from './single-node';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};

interface TaskJson {
  ID: string;
  Slot?: number;
  DesiredState: string;
  Status: { State: string; Timestamp: string; ContainerStatus?: { ContainerID?: string } };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function api<T>(sock: string, method: string, p: string, body?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath: sock, method, path: p, agent, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
      let s = '';
      res.on('data', (c: Buffer) => (s += c.toString()));
      res.on('end', () => ((res.statusCode ?? 500) >= 300 ? reject(new Error(`${method} ${p}: ${res.statusCode} ${s}`)) : resolve((s ? JSON.parse(s) : undefined) as T)));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
/** hrtime ↔ wall clock, to place the engine's and the agent's wall-clock timestamps on the same axis. */
const wallAt = (hr: number, ref: { hr: number; wall: number }): number => ref.wall + (hr - ref.hr);

/** First time (ms, wall clock) each "taskID state/desired" was seen, polling until `done` or 30 s. */
async function watch(sock: string, service: string, pollMs: number, done: (ts: TaskJson[]) => boolean, act: () => Promise<void>): Promise<{ seen: Map<string, number>; tasks: TaskJson[]; t0: number }> {
  const seen = new Map<string, number>();
  const ref = { hr: nowMs(), wall: Date.now() };
  const path = `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`;
  const t0 = wallAt(nowMs(), ref);
  await act();
  let tasks: TaskJson[] = [];
  const known = new Set<string>();
  const end = nowMs() + 30_000;
  for (;;) {
    tasks = await api<TaskJson[]>(sock, 'GET', path);
    const at = wallAt(nowMs(), ref);
    for (const t of tasks) {
      known.add(t.ID);
      for (const k of [`${t.ID} ${t.Status.State}`, `${t.ID} desired ${t.DesiredState}`, `${t.ID} exists`]) if (!seen.has(k)) seen.set(k, at);
    }
    // a task removed from the store between two polls (the reaper deletes a scaled-down task once it stopped)
    const listed = new Set(tasks.map((t) => t.ID));
    for (const id of known) if (!listed.has(id) && !seen.has(`${id} gone`)) seen.set(`${id} gone`, at);
    if (done(tasks) || nowMs() > end) break;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return { seen, tasks, t0 };
}

interface EngineEvent {
  status?: string;
  Action?: string;
  id?: string;
  timeNano: number;
}

function engineEvents(engine: string, sinceMs: number, untilMs: number): EngineEvent[] {
  const r = spawnSync('docker', ['-H', engine, 'events', '--since', (sinceMs / 1000).toFixed(3), '--until', (untilMs / 1000).toFixed(3), '--filter', 'type=container', '--format', '{{json .}}'], { encoding: 'utf8', timeout: 30_000 });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EngineEvent);
}

const ms = (x: number | undefined, t0: number): string => (x === undefined ? '–' : (x - t0).toFixed(1));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const engine = process.env.SHOAL_TEST_ENGINE;
  const image = process.env.SHOAL_TEST_IMAGE ?? 'shoal-busybox:test';
  if (!engine) throw new Error('set SHOAL_TEST_ENGINE (eval "$(bash scripts/ci-engine.sh start)")');
  const reps = Number(arg('reps', '3'));
  const scale = Number(arg('scale', '20'));
  const pollMs = Number(arg('poll-ms', '2'));
  const d = new TestDaemon({ runtime: 'docker', engine, hostname: 'trace', sourceMaps: false });
  const rows: Record<string, number[]> = {};
  const add = (k: string, v: number | undefined) => v !== undefined && (rows[k] ??= []).push(v);
  try {
    await d.start();
    d.dockerOk(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    const spec = (name: string, n: number) => ({
      Name: name,
      TaskTemplate: { ContainerSpec: { Image: image, Command: ['sleep', '86400'], StopGracePeriod: 0 }, RestartPolicy: { Condition: 'any', Delay: 0 } },
      Mode: { Replicated: { Replicas: n } },
    });
    const running = (ts: TaskJson[]) => ts.filter((t) => t.Status.State === 'running' && t.DesiredState === 'running');
    const until = async (sid: string, ok: (ts: TaskJson[]) => boolean) => {
      for (let i = 0; i < 3000 && !ok(await d.tasksOf(sid)); i++) await new Promise((r) => setTimeout(r, 20));
    };
    console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    for (let r = 0; r < reps; r++) {
      // ---- B4
      const { ID: sid } = await api<{ ID: string }>(d.sock, 'POST', '/v1.47/services/create', spec(`trace-b4-${r}`, 3));
      await until(sid, (ts) => running(ts).length === 3);
      await new Promise((res) => setTimeout(res, 1000));
      const victim = running(await d.tasksOf(sid)).sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0))[0]!;
      const cid = victim.Status.ContainerStatus!.ContainerID!;
      const b4 = await watch(d.sock, sid, pollMs, (ts) => ts.some((t) => t.ID !== victim.ID && t.Slot === victim.Slot && t.Status.State === 'running'), () => {
        const k = spawnSync('docker', ['-H', engine, 'kill', cid]);
        if (k.status !== 0) throw new Error(`docker kill: ${k.stderr}`);
        return Promise.resolve();
      });
      const repl = b4.tasks.find((t) => t.ID !== victim.ID && t.Slot === victim.Slot)!;
      const ev = engineEvents(engine, b4.t0 - 1000, Date.now() + 500);
      const at = (id: string | undefined, action: string) => {
        const e = ev.find((x) => (x.Action ?? x.status) === action && (!id || x.id === id) && x.timeNano / 1e6 >= b4.t0 - 5);
        return e ? e.timeNano / 1e6 : undefined;
      };
      const newCid = repl.Status.ContainerStatus?.ContainerID;
      const line: [string, number | undefined][] = [
        ['engine: old container died', at(cid, 'die')],
        ['agent: old task failed (its Status.Timestamp)', Date.parse(b4.tasks.find((t) => t.ID === victim.ID)!.Status.Timestamp)],
        ['store: old task failed', b4.seen.get(`${victim.ID} failed`)],
        ['store: replacement exists', b4.seen.get(`${repl.ID} exists`)],
        ['store: replacement pending', b4.seen.get(`${repl.ID} pending`)],
        ['store: replacement assigned', b4.seen.get(`${repl.ID} assigned`)],
        ['engine: new container created', at(newCid, 'create')],
        ['engine: new container started', at(newCid, 'start')],
        ['agent: replacement running (its Status.Timestamp)', Date.parse(repl.Status.Timestamp)],
        ['store: replacement running', b4.seen.get(`${repl.ID} running`)],
      ];
      console.log(`\nB4 rep ${r} (ms after the kill; load ${os.loadavg()[0]!.toFixed(2)})`);
      for (const [k, v] of line) {
        console.log(`  ${k.padEnd(52)} ${ms(v, b4.t0)}`);
        add(`B4 ${k}`, v === undefined ? undefined : v - b4.t0);
      }
      await api(d.sock, 'DELETE', `/v1.47/services/${sid}`);
      // ---- B2 scale-down
      const created = await api<{ ID: string }>(d.sock, 'POST', '/v1.47/services/create', spec(`trace-b2-${r}`, scale));
      await until(created.ID, (ts) => running(ts).length === scale);
      await new Promise((res) => setTimeout(res, 1000));
      const svc = await api<{ Version: { Index: number }; Spec: ReturnType<typeof spec> }>(d.sock, 'GET', `/v1.47/services/${created.ID}`);
      const before = await d.tasksOf(created.ID);
      const down = await watch(d.sock, created.ID, pollMs, (ts) => !ts.some((t) => t.Status.State === 'running'), () =>
        api(d.sock, 'POST', `/v1.47/services/${created.ID}/update?version=${svc.Version.Index}`, { ...svc.Spec, Mode: { Replicated: { Replicas: 0 } } }),
      );
      const ev2 = engineEvents(engine, down.t0 - 1000, Date.now() + 500);
      const cids = new Set(before.map((t) => t.Status.ContainerStatus?.ContainerID));
      const times = (action: string) => ev2.filter((e) => (e.Action ?? e.status) === action && cids.has(e.id)).map((e) => e.timeNano / 1e6);
      const seenAll = (key: (t: TaskJson) => string) => before.map((t) => down.seen.get(key(t))).filter((x): x is number => x !== undefined);
      const desired = seenAll((t) => `${t.ID} desired shutdown`).concat(seenAll((t) => `${t.ID} desired remove`));
      const stopped = before.map((t) => Math.min(...['shutdown', 'complete', 'failed', 'gone'].map((s) => down.seen.get(`${t.ID} ${s}`) ?? Infinity)));
      const kills = times('kill');
      const dies = times('die');
      const agentStopped = down.tasks.filter((t) => t.Status.State !== 'running').map((t) => Date.parse(t.Status.Timestamp));
      // each task: from its container's die to the store showing it stopped (our part once the engine is done)
      const dieOf = new Map(ev2.filter((e) => (e.Action ?? e.status) === 'die').map((e) => [e.id, e.timeNano / 1e6]));
      const lags = before
        .map((t, i) => (dieOf.has(t.Status.ContainerStatus?.ContainerID) && Number.isFinite(stopped[i]!) ? stopped[i]! - dieOf.get(t.Status.ContainerStatus?.ContainerID)! : undefined))
        .filter((x): x is number => x !== undefined);
      add('B2 per task: die → store not running, median', median(lags));
      add('B2 per task: die → store not running, max', Math.max(...lags));
      const line2: [string, number | undefined][] = [
        ['store: first task desired shutdown/remove', Math.min(...desired)],
        ['store: last task desired shutdown/remove', Math.max(...desired)],
        ['engine: first kill', Math.min(...kills)],
        ['engine: last kill', Math.max(...kills)],
        ['engine: first die', Math.min(...dies)],
        ['engine: last die', Math.max(...dies)],
        ['agent: last task stopped (its Status.Timestamp, tasks still listed)', Math.max(...agentStopped)],
        ['store: first task not running', Math.min(...stopped)],
        ['store: last task not running', Math.max(...stopped)],
      ];
      console.log(`\nB2 ${scale}->0 rep ${r} (ms after the update; load ${os.loadavg()[0]!.toFixed(2)}; ${kills.length} kills, ${dies.length} dies seen; die → store per task: median ${median(lags).toFixed(1)}, max ${Math.max(...lags).toFixed(1)})`);
      for (const [k, v] of line2) {
        const x = v !== undefined && Number.isFinite(v) ? v : undefined;
        console.log(`  ${k.padEnd(52)} ${ms(x, down.t0)}`);
        add(`B2 ${k}`, x === undefined ? undefined : x - down.t0);
      }
      await api(d.sock, 'DELETE', `/v1.47/services/${created.ID}`);
      await until(created.ID, (ts) => ts.length === 0).catch(() => undefined);
      await new Promise((res) => setTimeout(res, 2000));
    }
    // the same engine alone, right after: B4's replacement and the n stops at once, without orchestration
    const rf = await engineReplaceFloor(engine, image, reps);
    const sf = await engineStopFloor(engine, image, scale, reps);
    const fmt = (x: { median: number | null } | undefined) => (x?.median === null || x?.median === undefined ? '–' : (x.median * 1000).toFixed(1));
    console.log(`\nengine alone (medians, ms): kill + exit + create + start ${fmt(rf)}; ${scale} stops at once: stop?t=0 ${fmt(sf.stop)}, kill + wait ${fmt(sf.kill)}`);
    console.log(`\nmedians over ${reps} reps (ms; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})`);
    for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(56)} ${median(v).toFixed(1)}`);
  } finally {
    await d.teardown().catch(() => d.cleanup());
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
