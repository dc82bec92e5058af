// Test PKI for the API's TLS (`--tlsverify`): a CA, a server certificate for 127.0.0.1 and client
// certificates, made with the openssl CLI and laid out as DOCKER_CERT_PATH expects (ca.pem, cert.pem, key.pem).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface TestCA {
  dir: string;
  caPem: string;
  caKey: string;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });

function newKey(file: string, cwd: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], cwd);
}

export function createTestCA(dir: string, cn: string): TestCA {
  fs.mkdirSync(dir, { recursive: true });
  newKey('ca-key.pem', dir);
  openssl(['req', '-x509', '-new', '-key', 'ca-key.pem', '-subj', `/CN=${cn}`, '-days', '2', '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { dir, caPem: path.join(dir, 'ca.pem'), caKey: path.join(dir, 'ca-key.pem') };
}

/**
 * Issues a certificate into `outDir` as cert.pem/key.pem (and copies the CA as ca.pem): `server` for
 * 127.0.0.1 (serverAuth), `client` for a CLI user (clientAuth).
 */
export function issueTestCert(ca: TestCA, outDir: string, kind: 'server' | 'client'): { cert: string; key: string; ca: string } {
  fs.mkdirSync(outDir, { recursive: true });
  newKey('key.pem', outDir);
  openssl(['req', '-new', '-key', 'key.pem', '-subj', kind === 'server' ? '/CN=127.0.0.1' : '/CN=client', '-out', 'req.csr'], outDir);
  const ext = kind === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n';
  fs.writeFileSync(path.join(outDir, 'ext.cnf'), ext);
  openssl(['x509', '-req', '-in', 'req.csr', '-CA', ca.caPem, '-CAkey', ca.caKey, '-CAcreateserial', '-days', '2', '-out', 'cert.pem', '-extfile', 'ext.cnf'], outDir);
  fs.copyFileSync(ca.caPem, path.join(outDir, 'ca.pem'));
  return { cert: path.join(outDir, 'cert.pem'), key: path.join(outDir, 'key.pem'), ca: path.join(outDir, 'ca.pem') };
}
