// One RPC channel from this manager to each other manager, kept connected. The leader's carries what a
// follower sends it: forwarded control operations, relayed dispatcher calls, log streams. A leader change
// is the moment these are needed, on loops busy with agents moving over; a channel first made then waited
// for its TCP and TLS handshakes there (performance.md, "Channels to every manager, kept connected"). So
// every manager keeps one to each other manager from its start, as swarmkit's managers keep a connection
// to every Raft member.
import { PEER_RECONNECT, createRpcClient, keepConnected, type RpcClient, type TlsMaterial } from '../rpc';

export interface ManagerChannelsDeps {
  /** This manager's certificate and key as of now (read from its files). */
  tls: () => TlsMaterial;
  /** The other managers' swarm addresses. */
  peers: () => string[];
  /** How often the channels are looked at (default KEEP_CONNECTED_INTERVAL_MS; tests). */
  lookIntervalMs?: number;
}

export class ManagerChannels {
  private readonly channels = new Map<string, { client: RpcClient; certPem: string }>();
  private stopKeeping: (() => void) | null = null;

  constructor(private readonly deps: ManagerChannelsDeps) {}

  /** The channel to the manager at `addr` (made now if there is none). Relayed calls ask for it on each call. */
  get(addr: string): RpcClient {
    return this.channels.get(addr)?.client ?? this.make(addr, this.deps.tls());
  }

  /**
   * A new channel to `addr` with these credentials, in place of the one there was. grpc-js closes the old
   * one's connection gracefully: the calls on it (relayed sessions' streams) run on to their end.
   */
  private make(addr: string, t: TlsMaterial): RpcClient {
    this.channels.get(addr)?.client.close();
    const client = createRpcClient(addr, { ...t, serverRole: 'swarm-manager', grpcOptions: PEER_RECONNECT });
    this.channels.set(addr, { client, certPem: t.certPem });
    return client;
  }

  /** From now on keeps a connected channel to every other manager, and none to a manager that left. */
  start(): void {
    this.stopKeeping ??= keepConnected(() => this.current(), this.deps.lookIntervalMs);
  }

  /**
   * The channels to the managers there are now: the ones to managers that left are closed, and one made
   * before this manager's certificate was renewed is made again (its credentials would fail the next
   * handshake once the old certificate expires). The credentials are read here, every few seconds, not
   * on each call: reading them is reading files.
   */
  private current(): RpcClient[] {
    const peers = new Set(this.deps.peers());
    const t = this.deps.tls();
    for (const [addr, c] of this.channels) {
      if (!peers.has(addr)) {
        c.client.close();
        this.channels.delete(addr);
      } else if (c.certPem !== t.certPem) this.make(addr, t);
    }
    return [...peers].map((addr) => this.channels.get(addr)?.client ?? this.make(addr, t));
  }

  /** The managers a channel is kept to (tests). */
  addresses(): string[] {
    return [...this.channels.keys()];
  }

  close(): void {
    this.stopKeeping?.();
    this.stopKeeping = null;
    for (const c of this.channels.values()) c.client.close();
    this.channels.clear();
  }
}
