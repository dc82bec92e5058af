// The texts of `swarm init`, `swarm join-token` and friends, with `shoal` in place of `docker`.

export const joinCommand = (token: string, addr: string, bin = 'shoal'): string => `    ${bin} swarm join --token ${token} ${addr}\n`;

export function joinTokenText(role: 'worker' | 'manager', token: string, addr: string, bin = 'shoal'): string {
  return `To add a ${role} to this swarm, run the following command:\n\n${joinCommand(token, addr, bin)}\n`;
}

export function swarmInitText(nodeId: string, workerToken: string, addr: string, bin = 'shoal'): string {
  return (
    `Swarm initialized: current node (${nodeId}) is now a manager.\n\n` +
    joinTokenText('worker', workerToken, addr, bin) +
    `To add a manager to this swarm, run '${bin} swarm join-token manager' and follow the instructions.\n\n`
  );
}

/** The manager address a join command names: the node's manager address, with the port. */
export function joinAddr(managerAddr: string | undefined, fallback: string): string {
  const a = managerAddr || fallback;
  return /:\d+$/.test(a) ? a : `${a}:2377`;
}
