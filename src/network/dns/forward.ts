import dgram from 'node:dgram';
import net from 'node:net';
import type { Upstream } from './core/resolv-conf';

// One exchange with one upstream resolver: the client's query bytes as they came (same ID), over the
// protocol the client used, on a fresh socket (as libnetwork dials per query), bounded by a timeout
// and by the caller's abort. Resolves with the reply's bytes, or null on timeout or error.

const MAX_TCP_MESSAGE = 65535;

/**
 * Runs one exchange on a socket it owns: `finish` settles it once (reply bytes, or null), and the
 * timeout, the caller's abort and any socket error settle it with null; the socket is closed then.
 */
function bounded<S extends { on(ev: 'error', f: () => void): unknown }>(
  open: () => S,
  closeSocket: (s: S) => void,
  start: (sock: S, finish: (v: Buffer | null) => void) => void,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = open();
    let done = false;
    const finish = (v: Buffer | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      closeSocket(sock);
      resolve(v);
    };
    const onAbort = () => finish(null);
    const timer = setTimeout(onAbort, timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', onAbort);
    start(sock, finish);
  });
}

export function exchangeUdp(up: Upstream, query: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer | null> {
  return bounded(
    () => dgram.createSocket(net.isIPv6(up.host) ? 'udp6' : 'udp4'),
    (sock) => sock.close(),
    (sock, finish) => {
      // A reply must carry our query's ID; anything else on this port is not for us.
      sock.on('message', (msg) => {
        if (msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) finish(msg);
      });
      sock.send(query, up.port, up.host, (err) => {
        if (err) finish(null);
      });
    },
    timeoutMs,
    signal,
  );
}

export function exchangeTcp(up: Upstream, query: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer | null> {
  return bounded(
    () => net.connect({ host: up.host, port: up.port }),
    (sock) => sock.destroy(),
    (sock, finish) => {
      let buf = Buffer.alloc(0);
      sock.on('close', () => finish(null));
      sock.on('connect', () => sock.write(frame(query)));
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 2) return;
        const len = buf.readUInt16BE(0);
        if (buf.length >= 2 + len) finish(buf.subarray(2, 2 + len));
      });
    },
    timeoutMs,
    signal,
  );
}

/** A DNS message with its TCP length prefix. */
export function frame(msg: Buffer): Buffer {
  if (msg.length > MAX_TCP_MESSAGE) throw new Error('DNS message too long');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}
