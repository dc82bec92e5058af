// Waits for a service to converge, printing Docker-like progress lines. Bounded.
import { CliError } from '../client';
import type { Ctx } from '../context';
import { getService, listTasks } from '../context';
import { convergence, progressLine } from '../format/progress';

export async function waitConverged(ctx: Ctx, ref: string, o: { timeoutMs?: number; rollback?: boolean; quiet?: boolean } = {}): Promise<void> {
  const deadline = ctx.now() + (o.timeoutMs ?? 180_000);
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
