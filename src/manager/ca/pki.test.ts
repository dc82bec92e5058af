import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isKind } from '../../lib/errors';
import {
  createRootCA,
  createKeyAndCSR,
  issueNodeCertificate,
  issueNodeKeyAndCertificate,
  certInfo,
  verifyCertChain,
  caDigest,
  keyMatchesCert,
  createRotationCA,
  publicKeyOf,
  splitPemBundle,
} from './pki';
import { NodeSecurity, securityPaths } from './keystore';
import { generateJoinToken, parseJoinToken, verifyCADigest } from './core/token';

const H = 3_600_000;
const D = 24 * H;

test('root CA: P-256, CN=swarm-ca, 20 years, self-signed CA', async () => {
  const now = Date.UTC(2030, 0, 1);
  const ca = await createRootCA({ now });
  const c = new X509Certificate(ca.certPem);
  assert.equal(c.subject, 'CN=swarm-ca');
  assert.equal(c.issuer, 'CN=swarm-ca');
  assert.equal(c.ca, true);
  assert.equal(c.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(c.verify(c.publicKey));
  assert.equal(Date.parse(c.validTo), now + 20 * 365 * D);
  assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  const info = certInfo(ca.certPem);
  assert.equal(info.isCA, true);
  assert.equal(info.role, null);
});

test('node certificate: subject, SANs, EKU, validity, chain', async () => {
  const now = Date.now();
  const ca = await createRootCA();
  const { keyPem, csrPem } = await createKeyAndCSR();
  const pem = await issueNodeCertificate(ca, { csrPem }, 'nodeid123', 'worker', 'clusterabc', { now });
  const c = new X509Certificate(pem);
  assert.ok(c.checkIssued(new X509Certificate(ca.certPem)));
  assert.ok(c.verify(new X509Certificate(ca.certPem).publicKey));
  assert.equal(c.ca, false);
  assert.deepEqual(c.keyUsage?.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.equal(c.subjectAltName, 'DNS:swarm-worker, DNS:nodeid123');
  const info = certInfo(pem);
  assert.equal(info.nodeId, 'nodeid123');
  assert.equal(info.role, 'worker');
  assert.equal(info.ou, 'swarm-worker');
  assert.equal(info.clusterId, 'clusterabc');
  assert.equal(info.issuer, 'CN=swarm-ca');
  assert.equal(Math.floor(info.notBefore / 1000), Math.floor((now - H) / 1000));
  assert.equal(Math.floor(info.notAfter / 1000), Math.floor((now + 90 * D) / 1000));
  assert.match(info.serial, /^[0-9a-f]+$/);
  assert.ok(await keyMatchesCert(keyPem, pem));
  await verifyCertChain(pem, ca.certPem);

  const m = await issueNodeCertificate(ca, { publicKeyPem: await publicKeyOf(keyPem) }, 'mgr1', 'manager', 'clusterabc', { expiryMs: 2 * H, now });
  assert.equal(new X509Certificate(m).subjectAltName, 'DNS:swarm-manager, DNS:mgr1, DNS:swarm-ca');
  assert.equal(certInfo(m).role, 'manager');
  assert.equal(Math.floor(certInfo(m).notAfter / 1000), Math.floor((now + 2 * H) / 1000));
});

test('issuance refuses short expiry, tampered CSRs, and CA-less signers', async () => {
  const ca = await createRootCA();
  const { csrPem } = await createKeyAndCSR();
  await assert.rejects(issueNodeCertificate(ca, { csrPem }, 'n', 'worker', 'c', { expiryMs: H - 1 }), (e) => isKind(e, 'InvalidArgument') && /minimum certificate expiry/.test(e.message));
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 5]! ^= 0xff; // corrupt the signature
  const bad = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await assert.rejects(issueNodeCertificate(ca, { csrPem: bad }, 'n', 'worker', 'c'), (e) => isKind(e, 'InvalidArgument'));
  await assert.rejects(issueNodeCertificate(ca, { csrPem: 'nonsense' }, 'n', 'worker', 'c'), (e) => isKind(e, 'InvalidArgument'));
  await assert.rejects(issueNodeCertificate({ certPem: ca.certPem }, { csrPem }, 'n', 'worker', 'c'), (e) => isKind(e, 'PermissionDenied'));
});

test('chain verification refuses other CAs and expired certificates', async () => {
  const ca = await createRootCA();
  const other = await createRootCA();
  const { certPem } = await issueNodeKeyAndCertificate(ca, 'n1', 'worker', 'c', { expiryMs: H });
  await verifyCertChain(certPem, ca.certPem);
  await verifyCertChain(certPem, other.certPem + ca.certPem); // any root of a bundle
  await assert.rejects(verifyCertChain(certPem, other.certPem), (e) => isKind(e, 'PermissionDenied') && /unknown authority/.test(e.message));
  await assert.rejects(verifyCertChain(certPem, ca.certPem, { now: Date.now() + 2 * H }), (e) => isKind(e, 'PermissionDenied') && /expired/.test(e.message));
});

test('caDigest is SHA-256 of the DER and pins the token', async () => {
  const ca = await createRootCA();
  const der = new X509Certificate(ca.certPem).raw;
  const expect = createHash('sha256').update(der).digest();
  assert.deepEqual(Buffer.from(caDigest(ca.certPem)), expect);
  const tok = generateJoinToken(caDigest(ca.certPem), new Uint8Array(16).fill(1));
  verifyCADigest(parseJoinToken(tok), caDigest(ca.certPem));
  const other = await createRootCA();
  assert.throws(() => verifyCADigest(parseJoinToken(tok), caDigest(other.certPem)), (e) => isKind(e, 'FailedPrecondition'));
});

test('root rotation: cross-signed intermediate bridges old trust to the new key', async () => {
  const old = await createRootCA();
  const { newCA, crossSignedPem } = await createRotationCA(old);
  const { certPem } = await issueNodeKeyAndCertificate(newCA, 'n1', 'manager', 'c');
  await verifyCertChain(certPem, newCA.certPem);
  await assert.rejects(verifyCertChain(certPem, old.certPem), (e) => isKind(e, 'PermissionDenied'));
  await verifyCertChain(certPem, old.certPem, { intermediatesPem: crossSignedPem });
  await verifyCertChain(certPem + crossSignedPem, old.certPem);
  const x = new X509Certificate(crossSignedPem);
  assert.equal(x.ca, true);
  assert.ok(x.checkIssued(new X509Certificate(old.certPem)));
  assert.equal(splitPemBundle(certPem + crossSignedPem).length, 2);
});

test('keystore: layout, 0600 permissions, verified load, change events', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-ks-'));
  try {
    const ks = new NodeSecurity(dir);
    assert.equal(ks.load(), null);
    assert.equal(ks.exists(), false);
    const ca = await createRootCA();
    const id = await issueNodeKeyAndCertificate(ca, 'n1', 'worker', 'c1');
    let seen = 0;
    const off = ks.onChange(() => seen++);
    ks.save({ ...id, caPem: ca.certPem });
    assert.equal(seen, 1);
    off();
    const p = securityPaths(dir);
    assert.equal(p.dir, path.join(dir, 'certificates'));
    for (const f of [p.key, p.cert, p.rootCA]) assert.equal(fs.statSync(f).mode & 0o777, 0o600, f);
    assert.equal(fs.statSync(p.dir).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(p.dir).sort(), ['swarm-node.crt', 'swarm-node.key', 'swarm-root-ca.crt']);
    const loaded = await ks.loadVerified();
    assert.equal(loaded?.info.nodeId, 'n1');
    assert.equal(loaded?.caPem, ca.certPem);

    const other = await issueNodeKeyAndCertificate(ca, 'n2', 'worker', 'c1');
    fs.writeFileSync(p.key, other.keyPem);
    await assert.rejects(ks.loadVerified(), (e) => isKind(e, 'FailedPrecondition') && /does not match/.test(e.message));
    const foreign = await createRootCA();
    ks.save({ ...id, caPem: foreign.certPem });
    await assert.rejects(ks.loadVerified(), (e) => isKind(e, 'FailedPrecondition') && /not valid/.test(e.message));
    ks.remove();
    assert.equal(ks.load(), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
