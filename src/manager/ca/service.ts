// The NodeCA service (swarmkit's ca.NodeCA): served on the manager port to everyone, with or
// without a client certificate. Joining nodes fetch the root CA (pinning it by the token's digest)
// and trade a CSR + join token for a node certificate; member nodes renew with their current cert.
import { defineService, unary, type CallContext, type Handlers } from '../../rpc';
import { invalidArgument, permissionDenied } from '../../lib/errors';
import { JOIN_TOKEN_REQUIRED_MESSAGE, tokensEqual } from './core/token';
import type { NodeRole } from './core/policy';
import { issueNodeCertificate, type RootCA } from './pki';

/** A leaf followed by the intermediates that lead to the roots nodes trust. */
export function withChain(certPem: string, chain: string): string {
  return chain ? certPem.trimEnd() + '\n' + chain : certPem;
}

export interface GetRootCARequest {
  /** unused; reserved */
  _?: never;
}
export interface GetRootCAResponse {
  /** PEM of the root CA certificate(s) new nodes should trust. */
  certificate: string;
}

export interface IssueNodeCertificateRequest {
  csr: string;
  /** Full join token (SWMTKN-…); empty when a member renews with its current certificate. */
  token?: string;
  /** Requested availability for a new node ("active" | "pause" | "drain"), as `docker swarm join --availability`. */
  availability?: string;
  /** Hostname and advertise address of the joining node, for its Node object. */
  hostname?: string;
  addr?: string;
}
export interface IssueNodeCertificateResponse {
  nodeId: string;
  role: NodeRole;
  certificate: string;
  /** Root CA bundle to store as swarm-root-ca.crt. */
  rootCA: string;
}

export const NodeCAService = defineService('shoal.NodeCA', {
  GetRootCACertificate: unary<GetRootCARequest, GetRootCAResponse>('anonymous'),
  IssueNodeCertificate: unary<IssueNodeCertificateRequest, IssueNodeCertificateResponse>('anonymous'),
});

export interface NodeCABackend {
  clusterId(): string;
  /** The signing CA (manager side: from the cluster object; the new root's key during a rotation). */
  rootCA(): RootCA;
  /** Intermediates sent after every issued certificate (the cross-signed new root during a rotation). */
  chain?(): string;
  /** The roots member nodes should trust (old + new during a rotation); default rootCA().certPem. */
  trustRoot?(): string;
  /** The root joining nodes fetch and pin by the token digest; default rootCA().certPem. */
  joinRoot?(): string;
  /** Current tokens; rotated ones simply stop matching. */
  joinTokens(): { worker: string; manager: string };
  /** Node certificate expiry from the cluster spec (ms; 0 = default 90 days). */
  certExpiryMs(): number;
  /** Creates the Node object for a newly joining node; returns its new ID. */
  registerNode(req: { role: NodeRole; availability?: string; hostname?: string; addr?: string }): Promise<string>;
  /** The role a member node should have now (promotions/demotions), or null when it was removed. */
  nodeRole(nodeId: string): NodeRole | null | Promise<NodeRole | null>;
  now?(): number;
}

/** Handlers for NodeCAService over a backend (wired by the manager). */
export function nodeCAHandlers(b: NodeCABackend): Handlers<typeof NodeCAService.methods> {
  return {
    GetRootCACertificate: () => ({ certificate: b.joinRoot?.() ?? b.rootCA().certPem }),

    IssueNodeCertificate: async (req: IssueNodeCertificateRequest, ctx: CallContext) => {
      if (!req || typeof req.csr !== 'string' || req.csr === '') throw invalidArgument('CSR is required');
      const ca = b.rootCA();
      const chain = b.chain?.() ?? '';
      const rootCA = b.trustRoot?.() ?? ca.certPem;
      const sign = async (nodeId: string, role: NodeRole) => withChain(await issueNodeCertificate(ca, { csrPem: req.csr }, nodeId, role, b.clusterId(), opts), chain);
      const opts = { expiryMs: b.certExpiryMs(), now: b.now?.() };
      if (!req.token && ctx.refusedPeer) throw permissionDenied(ctx.refusedPeer.reason);
      // Renewal: a member with a valid certificate and no token keeps its ID; its role comes from the store.
      if (!req.token && ctx.peer) {
        if (ctx.peer.clusterId !== b.clusterId()) throw permissionDenied('Permission denied: remote certificate not part of organization');
        const role = await b.nodeRole(ctx.peer.nodeId);
        if (role === null) throw permissionDenied(`Permission denied: node ${ctx.peer.nodeId} was removed from swarm`);
        const certificate = await sign(ctx.peer.nodeId, role);
        return { nodeId: ctx.peer.nodeId, role, certificate, rootCA };
      }
      const tokens = b.joinTokens();
      const token = req.token ?? '';
      let role: NodeRole | null = null;
      if (token && tokensEqual(token, tokens.manager)) role = 'manager';
      else if (token && tokensEqual(token, tokens.worker)) role = 'worker';
      if (!role) throw invalidArgument(JOIN_TOKEN_REQUIRED_MESSAGE);
      const nodeId = await b.registerNode({ role, availability: req.availability, hostname: req.hostname, addr: req.addr });
      const certificate = await sign(nodeId, role);
      return { nodeId, role, certificate, rootCA };
    },
  };
}
