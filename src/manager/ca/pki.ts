// X.509 for the swarm PKI (DESIGN.md §5): root CA, node certificates, CSRs, chain checks, digests.
// @peculiar/x509 over Node's WebCrypto; keys are ECDSA P-256, PEM PKCS#8 on the outside.
// tsyringe, which @peculiar/x509 resolves its services through, needs the Reflect metadata API before
// the library loads; this module is the only importer of @peculiar/x509, so the polyfill is loaded here.
import 'reflect-metadata';
import { webcrypto, createHash, randomBytes, createPrivateKey, createPublicKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { invalidArgument, permissionDenied } from '../../lib/errors';
import {
  CA_CN,
  type NodeRole,
  nodeCertDNSNames,
  nodeSubject,
  nodeCertValidity,
  rootCAValidity,
  ouToRole,
  nodeCertExpiry,
} from './core/policy';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
x509.cryptoProvider.set(crypto as any);

const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface RootCA {
  certPem: string;
  /** PKCS#8 PEM; absent when this node only trusts the CA and cannot sign. */
  keyPem?: string;
}

export interface KeyAndCSR {
  keyPem: string;
  csrPem: string;
}

export interface CertInfo {
  nodeId: string;
  /** null when the OU is not a swarm role (e.g. the root CA itself). */
  role: NodeRole | null;
  ou: string;
  clusterId: string;
  notBefore: number;
  notAfter: number;
  issuer: string;
  subject: string;
  serial: string;
  dnsNames: string[];
  isCA: boolean;
}

// ---- PEM helpers --------------------------------------------------------------------------

function toPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function fromPem(pem: string, label: string): Buffer {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`);
  const m = re.exec(pem);
  if (!m) throw invalidArgument(`no ${label} PEM block found`);
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

/** Splits a PEM bundle into its CERTIFICATE blocks. */
export function splitPemBundle(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((b) => b + '\n') ?? [];
}

function parseCert(pem: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch (e) {
    throw invalidArgument(`invalid certificate: ${(e as Error).message}`);
  }
}

async function importPrivateKey(keyPem: string): Promise<CryptoKey> {
  const der = fromPem(keyPem, 'PRIVATE KEY');
  try {
    return await crypto.subtle.importKey('pkcs8', der, EC_ALG, true, ['sign']);
  } catch (e) {
    throw invalidArgument(`invalid private key: ${(e as Error).message}`);
  }
}

async function exportPrivateKey(key: CryptoKey): Promise<string> {
  return toPem(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // positive, non-zero leading byte
  return b.toString('hex');
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

// ---- root CA ------------------------------------------------------------------------------

/** A fresh root CA: ECDSA P-256, CN=swarm-ca, valid 20 years (backdated 1 h). */
export async function createRootCA(opts: { now?: number } = {}): Promise<Required<RootCA>> {
  const now = opts.now ?? Date.now();
  const keys = await generateKeys();
  const v = rootCAValidity(now);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: `CN=${CA_CN}`,
    notBefore: new Date(v.notBefore),
    notAfter: new Date(v.notAfter),
    keys,
    signingAlgorithm: SIGN_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportPrivateKey(keys.privateKey) };
}

/** SHA-256 of the first certificate's DER in `caPem` (what join tokens pin). */
export function caDigest(caPem: string): Uint8Array {
  const first = splitPemBundle(caPem)[0];
  if (!first) throw invalidArgument('no certificate in CA PEM');
  return new Uint8Array(createHash('sha256').update(fromPem(first, 'CERTIFICATE')).digest());
}

// ---- node keys and CSRs -------------------------------------------------------------------

/** A new node key and a CSR for it (the CN is a placeholder: the CA only trusts the key). */
export async function createKeyAndCSR(cn = 'swarm-node'): Promise<KeyAndCSR> {
  const keys = await generateKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: SIGN_ALG });
  return { keyPem: await exportPrivateKey(keys.privateKey), csrPem: csr.toString('pem') + '\n' };
}

/** The public key (SPKI PEM) of a private key PEM. */
export async function publicKeyOf(keyPem: string): Promise<string> {
  return createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'pem' }).toString();
}

export interface IssueOptions {
  /** Milliseconds; 0/undefined = 90 days; below 1 h is refused. */
  expiryMs?: number;
  now?: number;
}

/**
 * Signs a node certificate: CN=nodeId, OU=swarm-manager|swarm-worker, O=clusterId, EKU client+server auth,
 * DNS SANs [role OU, nodeId] (+ swarm-ca for managers). From a CSR only the public key is used (its
 * signature is checked); everything else comes from the arguments, as swarmkit's signing policy does.
 */
export async function issueNodeCertificate(
  ca: RootCA,
  subject: { csrPem: string } | { publicKeyPem: string },
  nodeId: string,
  role: NodeRole,
  clusterId: string,
  opts: IssueOptions = {},
): Promise<string> {
  if (!ca.keyPem) throw permissionDenied('this node holds no root CA key and cannot sign certificates');
  const now = opts.now ?? Date.now();
  const expiry = nodeCertExpiry(opts.expiryMs);
  const name = nodeSubject(nodeId, role, clusterId);
  const caCert = parseCert(splitPemBundle(ca.certPem)[0] ?? ca.certPem);
  const signingKey = await importPrivateKey(ca.keyPem);

  let publicKey: x509.PublicKey;
  if ('csrPem' in subject) {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(subject.csrPem);
    } catch (e) {
      throw invalidArgument(`invalid CSR: ${(e as Error).message}`);
    }
    if (!(await csr.verify())) throw invalidArgument('invalid CSR: signature does not verify');
    publicKey = csr.publicKey;
  } else {
    publicKey = new x509.PublicKey(subject.publicKeyPem);
  }

  const v = nodeCertValidity(now, expiry);
  // Never outlive the issuer.
  const notAfter = Math.min(v.notAfter, caCert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: [{ O: [name.O] }, { OU: [name.OU] }, { CN: [name.CN] }],
    issuer: caCert.subjectName.toString(),
    notBefore: new Date(v.notBefore),
    notAfter: new Date(notAfter),
    publicKey,
    signingKey,
    signingAlgorithm: SIGN_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(nodeCertDNSNames(nodeId, role).map((value) => ({ type: 'dns' as const, value }))),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  return cert.toString('pem') + '\n';
}

/** Convenience for a node that holds the CA key (the first manager): key + certificate in one step. */
export async function issueNodeKeyAndCertificate(
  ca: RootCA,
  nodeId: string,
  role: NodeRole,
  clusterId: string,
  opts: IssueOptions = {},
): Promise<{ keyPem: string; certPem: string }> {
  const { keyPem, csrPem } = await createKeyAndCSR(nodeId);
  const certPem = await issueNodeCertificate(ca, { csrPem }, nodeId, role, clusterId, opts);
  return { keyPem, certPem };
}

// ---- inspection and verification ----------------------------------------------------------

/** The identity and validity of a certificate (the first in a bundle). */
export function certInfo(pem: string): CertInfo {
  const cert = parseCert(splitPemBundle(pem)[0] ?? pem);
  const field = (f: string) => cert.subjectName.getField(f)[0] ?? '';
  const ou = field('OU');
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  return {
    nodeId: field('CN'),
    role: ouToRole(ou),
    ou,
    clusterId: field('O'),
    notBefore: cert.notBefore.getTime(),
    notAfter: cert.notAfter.getTime(),
    issuer: cert.issuer,
    subject: cert.subject,
    serial: cert.serialNumber,
    dnsNames: san ? san.names.items.filter((n) => n.type === 'dns').map((n) => n.value) : [],
    isCA: bc?.ca ?? false,
  };
}

/**
 * Checks that `certPem` (leaf first, optional intermediates after it in the bundle or in
 * `intermediatesPem`) chains to one of the roots in `rootsPem` and that every link is valid at `now`.
 * Throws PermissionDenied with the reason otherwise.
 */
export async function verifyCertChain(
  certPem: string,
  rootsPem: string,
  opts: { now?: number; intermediatesPem?: string } = {},
): Promise<void> {
  const date = new Date(opts.now ?? Date.now());
  const blocks = splitPemBundle(certPem);
  const leaf = parseCert(blocks[0] ?? certPem);
  const intermediates = [...blocks.slice(1), ...splitPemBundle(opts.intermediatesPem ?? '')].map(parseCert);
  const roots = splitPemBundle(rootsPem).map(parseCert);
  if (roots.length === 0) throw invalidArgument('no root CA certificate given');

  const validAt = (c: x509.X509Certificate) => c.notBefore <= date && date <= c.notAfter;
  const signedBy = async (c: x509.X509Certificate, issuer: x509.X509Certificate) =>
    c.issuer === issuer.subject && (await c.verify({ publicKey: issuer.publicKey, signatureOnly: true }));

  let current = leaf;
  if (!validAt(current)) throw permissionDenied('certificate has expired or is not yet valid');
  for (let depth = 0; depth <= intermediates.length; depth++) {
    for (const r of roots) {
      if ((await signedBy(current, r)) && validAt(r)) return;
    }
    let next: x509.X509Certificate | undefined;
    for (const i of intermediates) {
      const bc = i.getExtension(x509.BasicConstraintsExtension);
      if (bc?.ca && validAt(i) && (await signedBy(current, i))) {
        next = i;
        break;
      }
    }
    if (!next) break;
    current = next;
  }
  throw permissionDenied('certificate signed by unknown authority');
}

/** True when `keyPem` is the private key of the certificate `certPem`. */
export async function keyMatchesCert(keyPem: string, certPem: string): Promise<boolean> {
  const cert = parseCert(splitPemBundle(certPem)[0] ?? certPem);
  const certSpki = Buffer.from(cert.publicKey.rawData);
  const spki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  return Buffer.compare(certSpki, spki) === 0;
}

// ---- root rotation ------------------------------------------------------------------------

/**
 * Root rotation, step one: a new root CA plus an intermediate with the new root's subject and key,
 * signed by the old root. Nodes that still trust only the old root accept certificates issued by the
 * new key when the cross-signed certificate is sent along as an intermediate; once every node
 * trusts the new root, the old one is dropped.
 */
export async function createRotationCA(
  oldCA: RootCA,
  opts: { now?: number } = {},
): Promise<{ newCA: Required<RootCA>; crossSignedPem: string }> {
  if (!oldCA.keyPem) throw permissionDenied('cross-signing needs the current root CA key');
  const now = opts.now ?? Date.now();
  const newCA = await createRootCA({ now });
  const crossSignedPem = await crossSign(oldCA, newCA.certPem, { now });
  return { newCA, crossSignedPem };
}

/** The certificate `newRootPem` re-signed by `signer` (same subject, same key, CA:true). */
export async function crossSign(signer: RootCA, newRootPem: string, opts: { now?: number } = {}): Promise<string> {
  if (!signer.keyPem) throw permissionDenied('cross-signing needs the signing CA key');
  const now = opts.now ?? Date.now();
  const signerCert = parseCert(splitPemBundle(signer.certPem)[0] ?? signer.certPem);
  const target = parseCert(newRootPem);
  const notAfter = Math.min(target.notAfter.getTime(), signerCert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: target.subject,
    issuer: signerCert.subject,
    notBefore: new Date(Math.max(target.notBefore.getTime(), now - 3_600_000)),
    notAfter: new Date(notAfter),
    publicKey: target.publicKey,
    signingKey: await importPrivateKey(signer.keyPem),
    signingAlgorithm: SIGN_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.AuthorityKeyIdentifierExtension.create(signerCert.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(target.publicKey),
    ],
  });
  return cert.toString('pem') + '\n';
}

// ---- TLS facts as Docker shows them ---------------------------------------------------------

export interface TLSFacts {
  TrustRoot: string;
  /** base64 DER of the issuer's subject */
  CertIssuerSubject: string;
  /** base64 DER (SPKI) of the issuer's public key */
  CertIssuerPublicKey: string;
}

/** base64 SPKI DER of a certificate's public key (the first of a bundle). */
export function publicKeyB64(certPem: string): string {
  // Every session and heartbeat names the CA's key (caTarget): parsing the certificate each time was
  // a tenth of a new leader's CPU while 200 nodes reconnected. A certificate's text is its identity.
  const known = publicKeys.get(certPem);
  if (known !== undefined) return known;
  const cert = parseCert(splitPemBundle(certPem)[0] ?? certPem);
  const key = Buffer.from(cert.publicKey.rawData).toString('base64');
  if (publicKeys.size >= PUBLIC_KEY_MEMO) publicKeys.delete(publicKeys.keys().next().value!);
  publicKeys.set(certPem, key);
  return key;
}

/** The roots of a cluster (old and new during a rotation, a few clusters in tests): a handful. */
const PUBLIC_KEY_MEMO = 16;
const publicKeys = new Map<string, string>();

/** The cluster's TLSInfo for a root CA: the root is its own issuer. */
export function tlsInfoOf(caPem: string): TLSFacts {
  const cert = parseCert(splitPemBundle(caPem)[0] ?? caPem);
  return {
    TrustRoot: caPem,
    CertIssuerSubject: Buffer.from(cert.subjectName.toArrayBuffer()).toString('base64'),
    CertIssuerPublicKey: Buffer.from(cert.publicKey.rawData).toString('base64'),
  };
}

/**
 * A node's TLS facts: the subject and key of whatever signed its certificate (an intermediate sent
 * with it, else one of its roots) and the roots it trusts. Root rotation is finished when every node's
 * issuer key is the new root's and its trust root is the new root alone.
 */
export async function nodeTLSInfo(certPem: string, trustRootPem: string): Promise<TLSFacts> {
  const blocks = splitPemBundle(certPem);
  const leaf = parseCert(blocks[0] ?? certPem);
  const candidates = [...blocks.slice(1), ...splitPemBundle(trustRootPem)].map(parseCert);
  let issuer: x509.X509Certificate | undefined;
  for (const c of candidates) {
    if (c.subject === leaf.issuer && (await leaf.verify({ publicKey: c.publicKey, signatureOnly: true }).catch(() => false))) {
      issuer = c;
      break;
    }
  }
  return {
    TrustRoot: trustRootPem,
    CertIssuerSubject: Buffer.from(leaf.issuerName.toArrayBuffer()).toString('base64'),
    CertIssuerPublicKey: issuer ? Buffer.from(issuer.publicKey.rawData).toString('base64') : '',
  };
}
