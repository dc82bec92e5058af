// Small network clients the networking tests probe published ports and tasks with. Every call is
// bounded by a timeout.
import dgram from 'node:dgram';
import http from 'node:http';

/** One HTTP GET of `/`; resolves with the trimmed body, rejects on error or after `timeoutMs`. */
export function httpGet(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body.trim()));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
  });
}

/** Sends one datagram (from `localAddress` when given) and resolves with the first answer and the local port used. */
export function udpExchange(host: string, port: number, msg: string, opts: { localAddress?: string; timeoutMs?: number } = {}): Promise<{ text: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('no UDP answer'));
    }, opts.timeoutMs ?? 2000);
    s.on('message', (m) => {
      clearTimeout(t);
      const localPort = s.address().port;
      s.close();
      resolve({ text: m.toString(), localPort });
    });
    s.bind(0, opts.localAddress, () => s.send(msg, port, host));
  });
}
