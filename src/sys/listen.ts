// Opening and closing the daemon's small TCP listeners (metrics, dashboard) the same way.
import type { Server } from 'node:net';

/** Listens on host:port (port 0 picks one); resolves with the bound `host:port` (`[v6]:port`). */
export async function listenTcp(server: Server, host: string, port: number): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  if (!a || typeof a !== 'object') return `${host}:${port}`;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** Stops accepting and drops every open connection (idle keep-alives and open streams alike). */
export function closeHttpServer(server: Server & { closeAllConnections(): void }): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
