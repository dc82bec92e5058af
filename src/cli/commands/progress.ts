// Waits for a service to converge, printing the docker CLI's progress (format/service-progress.ts):
// the poll loop only (service, up-to-date tasks, nodes not down, every 200 ms). Bounded.
import { CliError, DaemonError } from '../client';
import type { Ctx } from '../context';
import { getService, listTasks } from '../context';
import type { ApiNode } from '../format/nodes';
import { plainText, ServiceProgress, TtyRenderer, type ProgressMsg } from '../format/service-progress';

const POLL_MS = 200;

/** Nodes not down; a worker cannot list nodes, and then every node counts as active. */
async function activeNodes(ctx: Ctx): Promise<Set<string> | undefined> {
  try {
    return new Set((await ctx.api.get<ApiNode[]>('/nodes')).filter((n) => n.Status?.State !== 'down').map((n) => n.ID));
  } catch (e) {
    if (e instanceof DaemonError) return undefined;
    throw e;
  }
}

/**
 * `ref` names the service in the final "verify: Service <ref> converged" (the docker CLI prints the
 * ID after create and what the user typed after update, rollback and scale). `quiet` prints nothing.
 */
export async function waitConverged(ctx: Ctx, ref: string, o: { timeoutMs?: number; quiet?: boolean } = {}): Promise<void> {
  const deadline = ctx.now() + (o.timeoutMs ?? 180_000);
  const p = new ServiceProgress(ref);
  const tty = ctx.ttyWidth !== undefined ? new TtyRenderer(ctx.ttyWidth) : undefined;
  const print = (msgs: ProgressMsg[]) => {
    if (!o.quiet) for (const m of msgs) ctx.out.write(tty ? tty.render(m) : plainText(m));
  };
  while (ctx.now() < deadline) {
    const s = await getService(ctx, ref);
    let step = p.service(s, ctx.now());
    print(step.out);
    if (step.error) throw new CliError(step.error);
    if (step.done) return;
    const tasks = await listTasks(ctx, { service: [s.ID], '_up-to-date': ['true'] });
    const nodes = (await activeNodes(ctx)) ?? new Set(tasks.map((t) => t.NodeID ?? ''));
    step = p.tasks(tasks, nodes, ctx.now());
    print(step.out);
    if (step.done) return;
    await ctx.sleep(POLL_MS);
  }
  throw new CliError(`timed out waiting for service ${ref} to converge`);
}
