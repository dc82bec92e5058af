// TLS credentials for the RPC layer. Server credentials can be swapped live (certificate renewal,
// root rotation) without restarting the listener; the client checks the server by CA chain + role,
// never by hostname (managers are addressed by IP).
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { SecureContextOptions } from 'node:tls';
import type { SecureServerOptions } from 'node:http2';
import { identityFromCertificate } from './peer';
import type { PeerRole } from './service';

export interface TlsMaterial {
  certPem: string;
  keyPem: string;
  /** Trusted roots (PEM bundle). */
  caPem: string;
}

function contextOptions(m: TlsMaterial): SecureContextOptions {
  return { ca: Buffer.from(m.caPem), cert: Buffer.from(m.certPem), key: Buffer.from(m.keyPem) };
}

/**
 * Server credentials whose key, certificate and roots can be replaced while serving.
 * `requireClientCert`: true → the TLS handshake fails without a client certificate from our CA;
 * false → a client certificate is requested and verified if sent, and calls without one are anonymous.
 */
export class MutableServerCredentials extends grpc.ServerCredentials {
  private material: TlsMaterial;
  constructor(
    material: TlsMaterial,
    readonly requireClientCert: boolean,
  ) {
    const ctor: SecureServerOptions = { requestCert: true, rejectUnauthorized: requireClientCert };
    super(ctor, contextOptions(material));
    this.material = material;
  }
  update(material: Partial<TlsMaterial>): void {
    this.material = { ...this.material, ...material };
    this.updateSecureContextOptions(contextOptions(this.material));
  }
  current(): TlsMaterial {
    return this.material;
  }
  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

export interface ClientTlsOptions {
  /** Our certificate and key; omit both for an anonymous (join) connection. */
  certPem?: string;
  keyPem?: string;
  /** Trusted roots. Omit only with `insecureSkipVerify` (fetching the root CA to pin it). */
  caPem?: string;
  /** The role the server's certificate must carry (default swarm-manager). */
  serverRole?: PeerRole | null;
  /** If set, the server's certificate CN must be this node ID. */
  serverNodeId?: string;
  /** TLS SNI / authority to present (default "swarm-manager"). */
  serverName?: string;
  /** Accept any server certificate. Only for the first step of joining, where the CA is then pinned by digest. */
  insecureSkipVerify?: boolean;
}

/** Checks the server certificate by role (and node ID) rather than by hostname. */
export function serverIdentityChecker(opts: Pick<ClientTlsOptions, 'serverRole' | 'serverNodeId'>) {
  const role = opts.serverRole === undefined ? 'swarm-manager' : opts.serverRole;
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    if (role === null && !opts.serverNodeId) return undefined;
    const id = identityFromCertificate(cert);
    if (!id) return new Error('remote certificate is not a swarm node certificate');
    if (role !== null && id.role !== role) return new Error(`remote certificate role ${id.role} is not ${role}`);
    if (opts.serverNodeId && id.nodeId !== opts.serverNodeId) return new Error(`remote certificate is for node ${id.nodeId}, expected ${opts.serverNodeId}`);
    return undefined;
  };
}

export function clientCredentials(opts: ClientTlsOptions): grpc.ChannelCredentials {
  if ((opts.certPem === undefined) !== (opts.keyPem === undefined)) throw new Error('certPem and keyPem go together');
  if (!opts.insecureSkipVerify && !opts.caPem) throw new Error('caPem is required unless insecureSkipVerify is set');
  const verify: grpc.VerifyOptions = opts.insecureSkipVerify
    ? { rejectUnauthorized: false, checkServerIdentity: () => undefined }
    : { checkServerIdentity: serverIdentityChecker(opts) };
  return grpc.credentials.createSsl(
    opts.caPem ? Buffer.from(opts.caPem) : null,
    opts.keyPem ? Buffer.from(opts.keyPem) : null,
    opts.certPem ? Buffer.from(opts.certPem) : null,
    verify,
  );
}

/** The options that make up a client's TLS credentials (what ClientCredentialsCache compares). */
const CREDENTIAL_FIELDS = ['certPem', 'keyPem', 'caPem', 'serverRole', 'serverNodeId', 'insecureSkipVerify'] as const;

/**
 * The client credentials of one owner (a node's dispatcher connector), made once per TLS material:
 * every reconnect with the same key, certificate and roots reuses them, so one TLS secure context
 * (parsed key, certificate and trust store) serves them all; a renewal or a root rotation (other
 * material) makes new ones. Making a context per connection cost a quarter of the CPU of a simulated
 * fleet whose 250 agents reconnected at once (docs/design/performance.md, "Scale").
 */
export class ClientCredentialsCache {
  private last: { opts: ClientTlsOptions; creds: grpc.ChannelCredentials } | null = null;

  /** `make`: how credentials are made (clientCredentials; a test counts the calls). */
  constructor(private readonly make: (opts: ClientTlsOptions) => grpc.ChannelCredentials = clientCredentials) {}

  get(opts: ClientTlsOptions): grpc.ChannelCredentials {
    const last = this.last;
    if (last && CREDENTIAL_FIELDS.every((k) => last.opts[k] === opts[k])) return last.creds;
    const creds = this.make(opts);
    this.last = { opts: Object.fromEntries(CREDENTIAL_FIELDS.map((k) => [k, opts[k]])) as ClientTlsOptions, creds };
    return creds;
  }
}
