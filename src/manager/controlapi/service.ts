// shoal.Control: runs one control-API operation by name on the leader (managers only). Any manager
// answers the Engine API; a manager that is not the leader forwards the whole request here, with
// JSON arguments, and hands back the result or the error (kind and message survive the hop).
import { MANAGERS, defineService, unary, type Handlers } from '../../rpc';
import { invalidArgument } from '../../lib/errors';

export interface ControlCallRequest {
  method: string;
  args: unknown[];
}

export const ControlService = defineService('shoal.Control', {
  Call: unary<ControlCallRequest, { result?: unknown }>(MANAGERS),
});

/** `exec` runs the operation here, and must refuse (NotLeaderError / no leader) when this manager is not the leader. */
export function controlHandlers(exec: (method: string, args: unknown[]) => Promise<unknown>): Handlers<typeof ControlService.methods> {
  return {
    Call: async (req: ControlCallRequest) => {
      if (!req || typeof req.method !== 'string') throw invalidArgument('control: method required');
      const result = await exec(req.method, Array.isArray(req.args) ? req.args : []);
      return { result: result === undefined ? null : result };
    },
  };
}
