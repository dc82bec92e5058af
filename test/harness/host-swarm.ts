import type { TestHost, TestHosts } from './hosts';

/**
 * A swarm over simulated hosts: a Shoal daemon (docker runtime) on every host, h1 the manager
 * (`swarm init`), every other host joined as a worker, through the real CLI. Returns node ID → host.
 */
export async function workerSwarm(hs: TestHosts): Promise<Map<string, TestHost>> {
  await Promise.all(hs.hosts.map((h) => h.startShoal()));
  const m = hs.host(1);
  m.dockerOk(['swarm', 'init', '--advertise-addr', m.ip]);
  const token = m.dockerOk(['swarm', 'join-token', '-q', 'worker']).trim();
  for (const h of hs.hosts.slice(1)) h.dockerOk(['swarm', 'join', '--token', token, `${m.ip}:2377`]);
  const nodeHost = new Map<string, TestHost>();
  for (const h of hs.hosts) nodeHost.set(h.dockerOk(['info', '--format', '{{.Swarm.NodeID}}']).trim(), h);
  return nodeHost;
}
