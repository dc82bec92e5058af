import dgram from 'node:dgram';
import net from 'node:net';
import type { Task, TaskEndpoint } from '../../../types';

// The process runtime's port contract (docs/design/networking.md §2.4). Process tasks share their
// node's network namespace, so each gets, for every port its service publishes, a port of the node
// that is free now: `PORT` (the first) and `PORT_<target>` (`PORT_<target>_UDP` for UDP) in its
// environment. The routing mesh reaches it at <node address>:<that port>. A host-mode port is given
// as the published port itself.

function freePort(protocol: 'tcp' | 'udp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(0, () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
      return;
    }
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** One endpoint per (protocol, target port) the task's service publishes. */
export async function assignTaskPorts(task: Task): Promise<TaskEndpoint[]> {
  const out: TaskEndpoint[] = [];
  for (const p of task.internal.ports ?? []) {
    const protocol = p.Protocol === 'udp' ? 'udp' : 'tcp';
    if (!p.TargetPort || out.some((e) => e.Protocol === protocol && e.TargetPort === p.TargetPort)) continue;
    const host = p.PublishMode === 'host' && p.PublishedPort;
    out.push({ Protocol: protocol, TargetPort: p.TargetPort, Port: host ? p.PublishedPort! : await freePort(protocol) });
  }
  return out;
}

export function portEnv(endpoints: TaskEndpoint[]): string[] {
  const env = endpoints.map((e) => `PORT_${e.TargetPort}${e.Protocol === 'udp' ? '_UDP' : ''}=${e.Port}`);
  if (endpoints[0]) env.unshift(`PORT=${endpoints[0].Port}`);
  return env;
}
