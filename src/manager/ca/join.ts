// The joining node's side of the bootstrap (docker swarm join --token T ADDR):
//  1. parse the token (malformed → InvalidArgument "invalid join token");
//  2. connect over TLS *without* verifying the server and fetch the root CA;
//  3. refuse unless SHA-256(root CA DER) equals the token's digest;
//  4. reconnect trusting only that root (server must hold a swarm-manager certificate), send a CSR
//     and the token, and receive the node certificate;
//  5. check the certificate chains to the pinned root and matches our key.
import { createRpcClient, type RpcClient } from '../../rpc';
import { failedPrecondition } from '../../lib/errors';
import { parseJoinToken, verifyCADigest } from './core/token';
import type { NodeRole } from './core/policy';
import { caDigest, certInfo, createKeyAndCSR, keyMatchesCert, verifyCertChain } from './pki';
import { NodeCAService } from './service';

export interface JoinResult {
  nodeId: string;
  role: NodeRole;
  clusterId: string;
  keyPem: string;
  certPem: string;
  caPem: string;
}

export interface JoinOptions {
  /** "ip:port" of a manager. */
  address: string;
  token: string;
  availability?: string;
  hostname?: string;
  addr?: string;
  timeoutMs?: number;
}

/** Fetches a manager's root CA over unauthenticated TLS and checks it against the token's pin. */
export async function fetchPinnedRootCA(address: string, token: string, timeoutMs = 10_000): Promise<string> {
  const parsed = parseJoinToken(token);
  const client = createRpcClient(address, { insecureSkipVerify: true });
  try {
    const { certificate } = await client.unary(NodeCAService, 'GetRootCACertificate', {}, { timeoutMs });
    verifyCADigest(parsed, caDigest(certificate));
    return certificate;
  } finally {
    client.close();
  }
}

export async function joinCluster(opts: JoinOptions): Promise<JoinResult> {
  const caPem = await fetchPinnedRootCA(opts.address, opts.token, opts.timeoutMs ?? 10_000);
  return joinWithRootCA(opts, caPem);
}

/**
 * Steps 4–5 of the join with a root CA already fetched and checked against the token (steps 1–3):
 * many nodes joining the same cluster from one place (the scale harness) pin the root once.
 */
export async function joinWithRootCA(opts: JoinOptions, caPem: string): Promise<JoinResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const { keyPem, csrPem } = await createKeyAndCSR();
  let client: RpcClient | null = null;
  try {
    client = createRpcClient(opts.address, { caPem, serverRole: 'swarm-manager' });
    const res = await client.unary(
      NodeCAService,
      'IssueNodeCertificate',
      { csr: csrPem, token: opts.token, availability: opts.availability, hostname: opts.hostname, addr: opts.addr },
      { timeoutMs },
    );
    await verifyCertChain(res.certificate, caPem);
    if (!(await keyMatchesCert(keyPem, res.certificate))) throw failedPrecondition('issued certificate does not match our key');
    const info = certInfo(res.certificate);
    if (info.nodeId !== res.nodeId || info.role !== res.role) throw failedPrecondition('issued certificate does not match the response');
    return { nodeId: res.nodeId, role: res.role, clusterId: info.clusterId, keyPem, certPem: res.certificate, caPem };
  } finally {
    client?.close();
  }
}

/** A member renews its certificate by presenting its current one (no token); a fresh key is made each time. */
export async function renewCertificate(
  address: string,
  current: { keyPem: string; certPem: string; caPem: string },
  opts: { timeoutMs?: number } = {},
): Promise<{ keyPem: string; certPem: string; caPem: string; role: NodeRole }> {
  const { keyPem, csrPem } = await createKeyAndCSR();
  const client = createRpcClient(address, { certPem: current.certPem, keyPem: current.keyPem, caPem: current.caPem, serverRole: 'swarm-manager' });
  try {
    const res = await client.unary(NodeCAService, 'IssueNodeCertificate', { csr: csrPem }, { timeoutMs: opts.timeoutMs ?? 10_000 });
    await verifyCertChain(res.certificate, res.rootCA);
    return { keyPem, certPem: res.certificate, caPem: res.rootCA, role: res.role };
  } finally {
    client.close();
  }
}
