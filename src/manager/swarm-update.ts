// The leader's side of `docker swarm update`, beside the manager it runs in (the node only calls it).
import { validateCAConfig, type RootRotator } from './ca/rotation';
import type { ControlApi, SwarmRotation } from './controlapi';
import type { SwarmSpec } from '../types';

/**
 * Validates the CA config against the cluster (`docker swarm ca --rotate` arrives as
 * CAConfig.ForceRotate+1 or a SigningCACert/Key), writes the cluster, and lets the root rotator act on a
 * requested rotation before answering.
 */
export async function updateSwarmOnLeader(controlapi: ControlApi, rotator: Pick<RootRotator, 'settle'> | undefined, version: number, spec: SwarmSpec, rotate: SwarmRotation): Promise<void> {
  await validateCAConfig(spec, controlapi.getCluster());
  await controlapi.updateCluster(version, spec, rotate);
  await rotator?.settle();
}
