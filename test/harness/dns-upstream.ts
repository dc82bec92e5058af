// An upstream DNS resolver in its own process, for tests that reach it while the test process is
// blocked in a synchronous docker CLI call (spawnSync: `docker exec … nslookup`), which would stall a
// server living in the test process. UDP only; it answers the A records it was given, NXDOMAIN for
// every other name, and prints each question's name on a line so the test can see what reached it.
import { spawn, type ChildProcess } from 'node:child_process';

const SCRIPT = `
const dgram = require('dgram');
const [dnsPacketPath, host, port, recordsJson] = process.argv.slice(1);
const dnsPacket = require(dnsPacketPath);
const records = JSON.parse(recordsJson);
const s = dgram.createSocket('udp4');
s.on('message', (m, r) => {
  let q;
  try { q = dnsPacket.decode(m); } catch { return; }
  const name = (q.questions && q.questions[0] && q.questions[0].name) || '';
  process.stdout.write('q ' + name + '\\n');
  const addr = q.questions[0].type === 'A' ? records[name.toLowerCase()] : undefined;
  const known = name.toLowerCase() in records;
  const answers = addr ? [{ name, type: 'A', ttl: 60, data: addr }] : [];
  s.send(dnsPacket.encode({ id: q.id, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3), questions: q.questions || [], answers }), r.port, r.address);
});
s.on('error', (e) => { process.stdout.write('error ' + e.message + '\\n'); process.exit(1); });
s.bind(Number(port), host, () => process.stdout.write('listening\\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

export class DnsUpstreamProcess {
  private readonly proc: ChildProcess;
  private out = '';

  /** `records`: lower-case name → IPv4 address. */
  constructor(
    readonly host: string,
    readonly port: number,
    records: Record<string, string>,
  ) {
    this.proc = spawn(process.execPath, ['-e', SCRIPT, require.resolve('dns-packet'), host, String(port), JSON.stringify(records)], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
  }

  /** Resolves once it listens; rejects with its error (e.g. the port is taken). */
  async listening(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.out.includes('listening')) return;
      const err = /^error (.*)$/m.exec(this.out);
      if (err || this.proc.exitCode !== null) throw new Error(`dns upstream on ${this.host}:${this.port}: ${err?.[1] ?? 'exited'}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`dns upstream on ${this.host}:${this.port} did not start`);
  }

  /** The names asked so far, in order. */
  questions(): string[] {
    return [...this.out.matchAll(/^q (.*)$/gm)].map((m) => m[1]!);
  }

  stop(): void {
    this.proc.stdin!.end();
    setTimeout(() => this.proc.kill('SIGKILL'), 2000).unref();
  }
}
