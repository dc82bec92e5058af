// A plain TCP listener on loopback that counts the connections made to it: enough to see that a channel
// started connecting, with no TLS handshake or call needed (tests of kept-connected channels).
import net from 'node:net';

export interface CountingListener {
  addr: string;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

export async function countingListener(): Promise<CountingListener> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    n++;
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    addr: `127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
    accepted: () => n,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => srv.close(() => r()));
    },
  };
}
