// Issue 3 benchmark: leader failover with real daemons. Three managers (127.0.0.10–12, process
// runtime); kill -9 of the leader's daemon, then a service create through the Engine API of a
// survivor, retried until it succeeds. Measured: kill → first successful write. Beside real
// Swarm's B6a (../shared/realswarm/RESULTS.md: 10.1–15.5 s, 3 managers, Docker's Raft defaults).
//
//   npm run build && node dist/bench/failover.js [--reps 3] [--ticks 50,1000]
//
// --ticks: the Raft tick lengths to measure (shoal daemon --raft-tick-ms; 1000 = Docker's default;
// the election is 10 ticks, the heartbeat 1 tick, as Docker's defaults).
import { TestCluster, type ClusterNode } from '../test/harness/cluster';
import { sleep, waitFor } from '../test/harness/daemon';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const REPS = Number(arg('reps', '3'));
const TICKS = arg('ticks', '50,1000')
  .split(',')
  .map((s) => Number(s))
  .filter((n) => n > 0);

const fmt = (xs: number[]) => {
  if (xs.length === 0) return 'n/a';
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0]!.toFixed(2)} / ${s[Math.floor(s.length / 2)]!.toFixed(2)} / ${s[s.length - 1]!.toFixed(2)}`;
};

const spec = (name: string) => ({
  Name: name,
  TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '1000'] } },
  Mode: { Replicated: { Replicas: 0 } },
});

/** hostname of the leader as `n` sees it, or undefined. */
function leaderSeenBy(n: ClusterNode): string | undefined {
  const r = n.docker(['node', 'ls', '--format', '{{.Hostname}}|{{.ManagerStatus}}']);
  if (r.status !== 0) return undefined;
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split('|'))
    .find(([, s]) => s === 'Leader')?.[0];
}

function allReachable(n: ClusterNode): boolean {
  const r = n.docker(['node', 'ls', '--format', '{{.ManagerStatus}}']);
  if (r.status !== 0) return false;
  const rows = r.stdout.trim().split('\n');
  return rows.filter((s) => s === 'Leader').length === 1 && rows.every((s) => s === 'Leader' || s === 'Reachable');
}

async function measure(tickMs: number): Promise<number[]> {
  const c = new TestCluster({ workers: 0, daemonArgs: ['--raft-tick-ms', String(tickMs)], hostPrefix: `fo${tickMs}` });
  const out: number[] = [];
  try {
    await c.start();
    const managers = [c.manager, await c.addManager(c.manager), await c.addManager(c.manager)];
    for (let rep = 0; rep < REPS; rep++) {
      await waitFor(() => managers.every((m) => allReachable(m)), 120_000, 'all managers reachable');
      const leaderName = leaderSeenBy(managers[0]!)!;
      const leader = managers.find((m) => m.hostname === leaderName)!;
      const survivor = managers.find((m) => m !== leader)!;
      const t0 = Date.now();
      c.kill9(leader);
      const deadline = t0 + 120_000;
      let ok = false;
      while (!ok && Date.now() < deadline) {
        const r = await survivor.daemon.api('POST', '/v1.47/services/create', spec(`fo-${tickMs}-${rep}-${Date.now().toString(36)}`)).catch(() => ({ status: 0 }));
        ok = r.status === 201;
        if (!ok) await sleep(20);
      }
      if (ok) out.push((Date.now() - t0) / 1000);
      process.stderr.write(`tick ${tickMs} ms, rep ${rep + 1}: ${ok ? out[out.length - 1]!.toFixed(2) + ' s' : 'no write within 120 s'}\n`);
      await c.restart(leader);
    }
  } finally {
    for (const n of c.nodes) await n.daemon.cleanup().catch(() => undefined);
  }
  return out;
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const t of TICKS) {
    const xs = await measure(t);
    const label = t === 1000 ? 'Docker defaults (tick 1 s, election 10 ticks)' : `fast ticks (tick ${t} ms, election 10 ticks)`;
    rows.push(`| ${label} | ${fmt(xs)} | ${xs.length}/${REPS} | 10.1–15.5 (B6a) |`);
  }
  console.log('\nLeader failover, 3 managers: kill -9 of the leader daemon → first successful service create on a survivor (Engine API), seconds min / median / max');
  console.log('| Shoal config | Shoal | runs | Swarm |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(r);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
