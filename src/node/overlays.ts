import type { Logger } from 'pino';
import type { DockerExecutor } from '../agent/executor/docker';
import type { Executor } from '../agent/executor/types';
import type { NodeNetwork } from '../network/node-network';
import { Overlay } from '../network/overlay';

// Overlays run where they can: the docker runtime (containers to attach) with the daemon as root
// (bridges, VXLAN devices, nsenter). Elsewhere tasks stay as they were: the process runtime's tasks
// share the node's namespace and the mesh reaches them at node ports.

// By the executor's name, not `instanceof`: the docker executor's code (and the engine client's HTTP
// pool) is loaded only on the docker runtime (node/executor.ts).
const canOverlay = (executor: Executor): executor is DockerExecutor => executor.name === 'docker' && process.getuid?.() === 0;

/** Gives the node's network layer its overlays and the docker runtime its networks. */
export function attachOverlay(network: NodeNetwork, executor: Executor, localAddr: string, nodeId: string, logger: Logger): void {
  if (!canOverlay(executor)) return;
  network.useOverlay(new Overlay({ engine: executor.engine, localAddr, nodeId, log: logger.child({ component: 'overlay' }) }));
  executor.useNetworking(network.taskNetworking);
}

/** The node left the swarm: its bridges, VXLAN devices and engine networks go (its tasks went before). */
export async function removeOverlays(executor: Executor, logger: Logger): Promise<void> {
  if (!canOverlay(executor)) return;
  executor.useNetworking(undefined);
  await new Overlay({ engine: executor.engine, localAddr: '', log: logger.child({ component: 'overlay' }) })
    .teardownAll()
    .catch((err: unknown) => logger.warn({ err }, 'overlay: teardown on leave'));
}
