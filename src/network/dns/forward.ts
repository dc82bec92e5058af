import dgram from 'node:dgram';
import net from 'node:net';
import type { Upstream } from './core/resolv-conf';

// One exchange with one upstream resolver: the client's query bytes as they came (same ID), over the
// protocol the client used, on a fresh socket (as libnetwork dials per query), bounded by a timeout
// and by the caller's abort. Resolves with the reply's bytes, or null on timeout or error.

const MAX_TCP_MESSAGE = 65535;

export function exchangeUdp(up: Upstream, query: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(net.isIPv6(up.host) ? 'udp6' : 'udp4');
    let done = false;
    const finish = (v: Buffer | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      sock.close();
      resolve(v);
    };
    const onAbort = () => finish(null);
    const timer = setTimeout(onAbort, timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', onAbort);
    // A reply must carry our query's ID; anything else on this port is not for us.
    sock.on('message', (msg) => {
      if (msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0)) finish(msg);
    });
    sock.send(query, up.port, up.host, (err) => {
      if (err) finish(null);
    });
  });
}

export function exchangeTcp(up: Upstream, query: Buffer, timeoutMs: number, signal: AbortSignal): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: up.host, port: up.port });
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (v: Buffer | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(v);
    };
    const onAbort = () => finish(null);
    const timer = setTimeout(onAbort, timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    sock.on('error', onAbort);
    sock.on('close', onAbort);
    sock.on('connect', () => sock.write(frame(query)));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2) return;
      const len = buf.readUInt16BE(0);
      if (buf.length >= 2 + len) finish(buf.subarray(2, 2 + len));
    });
  });
}

/** A DNS message with its TCP length prefix. */
export function frame(msg: Buffer): Buffer {
  if (msg.length > MAX_TCP_MESSAGE) throw new Error('DNS message too long');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}
