import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Logger } from 'pino';
import type { NetworkNames } from '../../types';
import { NameIndex, decide, type Record as DnsRecord, type Scope } from './core/answer';
import { parseResolvConf, type Upstream } from './core/resolv-conf';
import { exchangeTcp, exchangeUdp, frame } from './forward';

// The node's embedded DNS server (docs/design/dns.md): answers the swarm's names from the table the
// dispatcher sends (`setRecords`) on every address it is told to listen on, UDP and TCP, and relays
// every other query to the node's upstream resolvers. Decisions are the pure core's
// (core/answer.ts); this file only moves bytes.

/** libnetwork's extIOTimeout and maxConcurrent. */
export const UPSTREAM_TIMEOUT_MS = 4000;
export const MAX_INFLIGHT = 1024;
const TCP_IDLE_MS = 30_000;
const UDP_MIN_SIZE = 512;
const TCP_MAX_SIZE = 65535;

const RCODE = { NOERROR: 0, SERVFAIL: 2, REFUSED: 5 } as const;

export interface DnsServerOptions {
  logger?: Logger;
  /** Upstream resolvers; default: the `nameserver` lines of `resolvConf`. */
  upstreams?: Upstream[];
  /** Default /etc/resolv.conf. */
  resolvConf?: string;
  /** Per upstream try (default 4 s, Docker's). */
  timeoutMs?: number;
  /** Queries being forwarded at once; more are answered REFUSED (default 1024, Docker's). */
  maxInflight?: number;
  /** [0, 1): the order of multiple addresses in an answer. */
  random?: () => number;
}

export interface DnsListenOptions {
  host: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  port: number;
  /** Network IDs whose names this address answers, in order; default every network in the table. */
  scope?: string[];
}

/** One address the server answers on, UDP and TCP. */
export interface DnsListener {
  readonly host: string;
  readonly port: number;
  setScope(scope: string[] | undefined): void;
  close(): Promise<void>;
}

interface Query {
  packet: ReturnType<typeof dnsPacket.decode>;
  raw: Buffer;
}

export class DnsServer {
  private index = new NameIndex([]);
  private readonly upstreams: Upstream[];
  private readonly listeners = new Set<ListenerImpl>();
  private readonly clientUpstreams = new Map<string, Upstream[]>();
  private inflight = 0;
  private readonly closing = new AbortController();

  constructor(private readonly o: DnsServerOptions = {}) {
    this.upstreams = o.upstreams ?? readUpstreams(o.resolvConf ?? '/etc/resolv.conf', o.logger);
  }

  /** Swaps the name table; queries already answered are not affected, the next ones see it. */
  setRecords(table: readonly NetworkNames[]): void {
    this.index = new NameIndex(table);
  }

  /**
   * The upstreams for queries from one client address (a task's `--dns` servers), instead of the
   * node's; undefined goes back to the node's. Docker keeps the same per-client map (ipToExtDNS).
   */
  setClientUpstreams(clientAddr: string, upstreams: Upstream[] | undefined): void {
    if (upstreams) this.clientUpstreams.set(clientAddr, upstreams);
    else this.clientUpstreams.delete(clientAddr);
  }

  /** Queries being forwarded upstream now. */
  inflightCount(): number {
    return this.inflight;
  }

  async listen(opts: DnsListenOptions): Promise<DnsListener> {
    const l = await ListenerImpl.open(opts, (raw, proto, scope, client) => this.handle(raw, proto, scope, client), this.o.logger);
    this.listeners.add(l);
    l.onClose = () => this.listeners.delete(l);
    return l;
  }

  async close(): Promise<void> {
    this.closing.abort();
    await Promise.all([...this.listeners].map((l) => l.close()));
  }

  /** The reply to one query's bytes, or null to send nothing (not a query we can read). */
  async handle(raw: Buffer, proto: 'udp' | 'tcp', scope: Scope, client = ''): Promise<Buffer | null> {
    let packet: Query['packet'];
    try {
      packet = dnsPacket.decode(raw);
    } catch {
      return null;
    }
    const q = packet.questions?.[0];
    if (packet.type !== 'query' || !q) return null;
    const d = decide(this.index, scope, { name: q.name, type: q.type }, this.o.random ?? Math.random);
    if (d.kind === 'answer') return encodeAnswer({ packet, raw }, d.answers, proto === 'tcp' ? TCP_MAX_SIZE : udpLimit(packet));
    return this.forward({ packet, raw }, proto, this.clientUpstreams.get(client) ?? this.upstreams);
  }

  private async forward(q: Query, proto: 'udp' | 'tcp', upstreams: Upstream[]): Promise<Buffer> {
    const ups = upstreams.filter((u) => ![...this.listeners].some((l) => l.port === u.port && l.host === u.host));
    if (ups.length === 0) return encodeRcode(q, RCODE.SERVFAIL);
    const max = this.o.maxInflight ?? MAX_INFLIGHT;
    if (this.inflight >= max) {
      this.o.logger?.warn({ max }, 'dns: too many queries forwarded at once; refusing');
      return encodeRcode(q, RCODE.REFUSED);
    }
    this.inflight++;
    try {
      for (const up of ups) {
        const timeout = this.o.timeoutMs ?? UPSTREAM_TIMEOUT_MS;
        const reply = proto === 'tcp' ? await exchangeTcp(up, q.raw, timeout, this.closing.signal) : await exchangeUdp(up, q.raw, timeout, this.closing.signal);
        if (!reply) continue;
        // SERVFAIL and REFUSED may be one server's trouble: try the next, as Docker does.
        const rcode = reply.length >= 4 ? reply.readUInt16BE(2) & 0xf : RCODE.SERVFAIL;
        if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) continue;
        return reply;
      }
      return encodeRcode(q, RCODE.SERVFAIL);
    } finally {
      this.inflight--;
    }
  }
}

function readUpstreams(path: string, logger?: Logger): Upstream[] {
  try {
    return parseResolvConf(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    logger?.warn({ err, path }, 'dns: no upstream resolvers; names outside the swarm will not resolve');
    return [];
  }
}

function udpLimit(p: Query['packet']): number {
  const opt = p.additionals?.find((a) => a.type === 'OPT');
  return Math.min(TCP_MAX_SIZE, Math.max(UDP_MIN_SIZE, opt?.udpPayloadSize ?? 0));
}

function flagsOf(q: Query, rcode: number): number {
  return ((q.packet.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | rcode;
}

function encodeRcode(q: Query, rcode: number): Buffer {
  return dnsPacket.encode({ id: q.packet.id, type: 'response', flags: flagsOf(q, rcode), questions: q.packet.questions ?? [] });
}

/** NOERROR with the records, dropping records from the end (and setting TC) past the size limit. */
function encodeAnswer(q: Query, records: DnsRecord[], maxSize: number): Buffer {
  const answers = records.map((r) => ({ name: r.name, type: r.type, class: 'IN', ttl: r.ttl, data: r.data }));
  let flags = flagsOf(q, RCODE.NOERROR);
  for (;;) {
    const out = dnsPacket.encode({ id: q.packet.id, type: 'response', flags, questions: q.packet.questions ?? [], answers });
    if (out.length <= maxSize || answers.length === 0) return out;
    answers.pop();
    flags |= dnsPacket.TRUNCATED_RESPONSE;
  }
}

type Handler = (raw: Buffer, proto: 'udp' | 'tcp', scope: Scope, client: string) => Promise<Buffer | null>;

class ListenerImpl implements DnsListener {
  onClose: () => void = () => {};
  private scope: Scope;
  private readonly conns = new Set<net.Socket>();
  private closed = false;

  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    scope: string[] | undefined,
    handler: Handler,
    private readonly log?: Logger,
  ) {
    this.scope = scope ?? 'all';
    udp.on('message', (msg, rinfo) => {
      handler(msg, 'udp', this.scope, rinfo.address).then(
        (reply) => {
          if (reply && !this.closed) udp.send(reply, rinfo.port, rinfo.address);
        },
        (err: unknown) => this.log?.warn({ err }, 'dns: query failed'),
      );
    });
    tcp.on('connection', (sock) => this.serveTcp(sock, handler));
  }

  static async open(o: DnsListenOptions, handler: Handler, log?: Logger): Promise<ListenerImpl> {
    // Port 0: the UDP socket picks a port and TCP takes the same number, which another program may
    // hold already; then try another (a bounded number of times).
    for (let attempt = 1; ; attempt++) {
      try {
        return await ListenerImpl.openOnce(o, handler, log);
      } catch (err) {
        if (o.port !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 8) throw err;
      }
    }
  }

  private static async openOnce(o: DnsListenOptions, handler: Handler, log?: Logger): Promise<ListenerImpl> {
    const udp = dgram.createSocket(net.isIPv6(o.host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(o.port, o.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => log?.warn({ err }, 'dns: UDP socket error'));
    const port = udp.address().port;
    const tcp = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, o.host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw err;
    }
    return new ListenerImpl(o.host, port, udp, tcp, o.scope, handler, log);
  }

  setScope(scope: string[] | undefined): void {
    this.scope = scope ?? 'all';
  }

  private serveTcp(sock: net.Socket, handler: Handler): void {
    this.conns.add(sock);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        handler(msg, 'tcp', this.scope, sock.remoteAddress ?? '').then(
          (reply) => {
            if (reply && !sock.destroyed) sock.write(frame(reply));
          },
          (err: unknown) => this.log?.warn({ err }, 'dns: query failed'),
        );
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    for (const c of this.conns) c.destroy();
    await Promise.all([new Promise<void>((r) => this.udp.close(() => r())), new Promise<void>((r) => this.tcp.close(() => r()))]);
  }
}
