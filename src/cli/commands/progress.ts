// Waits for a service to converge, printing Docker-like progress lines. Bounded.
import { CliError } from '../client';
import type { Ctx } from '../context';
import { getService, listTasks } from '../context';
import { convergence, jobProgress, jobProgressLine, progressLine } from '../format/progress';

export async function waitConverged(ctx: Ctx, ref: string, o: { timeoutMs?: number; rollback?: boolean; quiet?: boolean } = {}): Promise<void> {
  const deadline = ctx.now() + (o.timeoutMs ?? 180_000);
  const first = await getService(ctx, ref);
  if (first.Spec.Mode.ReplicatedJob || first.Spec.Mode.GlobalJob) return waitJob(ctx, first.ID, deadline, o.quiet);
  let last = '';
  let stable = 0;
  let name = ref;
  if (o.rollback && !o.quiet) ctx.out.write('rollback: manually requested rollback\n');
  while (ctx.now() < deadline) {
    const s = await getService(ctx, ref);
    name = s.Spec.Name;
    const c = convergence(s, await listTasks(ctx, { service: [s.ID] }));
    const line = progressLine(c, o.rollback);
    if (line !== last && !o.quiet) ctx.out.write(line);
    last = line;
    if (c.failed) throw new CliError(`service update paused: ${c.failed}`);
    stable = c.converged ? stable + 1 : 0;
    if (stable >= 2) {
      if (!o.quiet) ctx.out.write(`verify: Service ${name} converged\n`);
      return;
    }
    await ctx.sleep(500);
  }
  throw new CliError(`timed out waiting for service ${name} to converge`);
}

/** A job runs to completion: follow its current iteration until it is done, as the docker CLI does ("job complete"). */
async function waitJob(ctx: Ctx, id: string, deadline: number, quiet?: boolean): Promise<void> {
  let last = '';
  while (ctx.now() < deadline) {
    const s = await getService(ctx, id);
    const p = jobProgress(s, await listTasks(ctx, { service: [s.ID] }));
    const line = jobProgressLine(p);
    if (line !== last && !quiet) ctx.out.write(line);
    last = line;
    if (p.done) {
      if (!quiet) ctx.out.write('job complete\n');
      return;
    }
    await ctx.sleep(500);
  }
  throw new CliError(`timed out waiting for job ${id} to complete`);
}
