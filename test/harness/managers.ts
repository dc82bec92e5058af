// What the several-manager tests share: Docker's no-leader text, MANAGER STATUS as `docker node ls`
// prints it (read once, or waited for), a sleeping service, and the clean-up that leaves no task
// process behind.
import type { ClusterNode, TestCluster } from './cluster';
import { waitFor } from './daemon';

export const NO_LEADER =
  "Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

export type ManagerStatus = Map<string, string>;

/** hostname → MANAGER STATUS as `docker node ls` on `n` prints it ('' for a worker); `output` is what it printed. */
export function managerStatus(n: ClusterNode): { status?: ManagerStatus; output: string } {
  const r = n.docker(['node', 'ls', '--format', '{{.Hostname}}|{{.ManagerStatus}}'], { timeoutMs: 10_000 });
  const output = r.stdout + r.stderr;
  if (r.status !== 0) return { output };
  return { status: new Map(r.stdout.trim().split('\n').map((l) => l.split('|') as [string, string])), output };
}

export const leaderOf = (s: ManagerStatus): string[] => [...s].filter(([, v]) => v === 'Leader').map(([h]) => h);

/**
 * Waits until `n`'s MANAGER STATUS satisfies `ok`. On timeout the error carries the last output and,
 * with SHOAL_TEST_LOGS=1, the daemons' log tails (their data dirs go with the test).
 */
export async function waitManagerStatus(c: TestCluster | undefined, n: ClusterNode, ok: (s: ManagerStatus) => boolean, what: string, ms = 20_000): Promise<ManagerStatus> {
  let seen = '';
  return waitFor(
    () => {
      const { status, output } = managerStatus(n);
      seen = output;
      return status && ok(status) ? status : undefined;
    },
    ms,
    `${n.hostname}: ${what}`,
    100,
  ).catch((e: Error) => {
    const logs = process.env.SHOAL_TEST_LOGS ? (c?.nodes ?? []).map((x) => `--- ${x.hostname} ---\n${x.daemon.log()}`).join('\n') : '';
    throw new Error(`${e.message}\nlast node ls on ${n.hostname}:\n${seen}\n${logs}`);
  });
}

/** One replica of `sleep 1000` (the process runtime ignores the image), created through `n`. */
export const createSleepService = (n: ClusterNode, name: string): string =>
  n.dockerOk(['service', 'create', '--detach', '--stop-grace-period', '1s', '--name', name, '--replicas', '1', 'busybox', 'sleep', '1000']).trim();

/** Service names as `docker service ls` on `n` lists them, sorted. */
export const serviceNames = (n: ClusterNode): string[] => n.dockerOk(['service', 'ls', '--format', '{{.Name}}']).trim().split('\n').filter(Boolean).sort();

/** Running tasks of a service, as manager `n` reports them (0 when it does not answer). */
export async function runningTasks(n: ClusterNode, service: string): Promise<number> {
  const r = await n.daemon.api<{ DesiredState: string; Status: { State: string } }[]>('GET', `/v1.47/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`);
  return r.status === 200 ? r.body.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running').length : 0;
}

/**
 * after(): killed nodes come back (a task outlives its daemon, so only a live daemon stops it), every
 * service is removed through a manager that answers and its tasks are waited for, then the daemons go.
 */
export async function tearDownManagers(c: TestCluster | undefined, managers: ClusterNode[]): Promise<void> {
  if (!c) return;
  await Promise.all(c.nodes.filter((n) => n.killed).map((n) => c.restart(n).catch(() => undefined)));
  const m = await waitFor(() => managers.find((n) => n.docker(['service', 'ls', '-q'], { timeoutMs: 5_000 }).status === 0), 20_000, 'a manager answers').catch(() => undefined);
  if (m) {
    const ids = m.docker(['service', 'ls', '-q']).stdout.trim();
    if (ids) m.docker(['service', 'rm', ...ids.split('\n')]);
    await waitFor(async () => (await m.daemon.api<unknown[]>('GET', '/v1.47/tasks')).body.length === 0, 20_000, 'all tasks gone').catch(() => undefined);
  }
  await Promise.all(c.nodes.map((n) => n.daemon.cleanup().catch(() => undefined)));
}
