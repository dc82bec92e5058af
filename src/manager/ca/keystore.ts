// The node's TLS identity on disk, as swarmkit lays it out:
//   <dataDir>/certificates/swarm-node.key      node private key (PKCS#8 PEM)
//   <dataDir>/certificates/swarm-node.crt      node certificate (PEM; may carry intermediates)
//   <dataDir>/certificates/swarm-root-ca.crt   trusted root CA(s) (PEM bundle)
// Files are 0600 in a 0700 directory, written durably (sys/durable-file: temp, fsync, rename, fsync dir).
// With autolock the key file is an encrypted PKCS#8 PEM (`ENCRYPTED PRIVATE KEY`, AES-256-CBC under
// the unlock key, as swarmkit writes it): a restarted manager cannot read it, hence is locked, until
// `docker swarm unlock` hands the key back.
import { createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { failedPrecondition } from '../../lib/errors';
import { certInfo, keyMatchesCert, verifyCertChain, type CertInfo } from './pki';
import { writeFileDurable, writeFileDurableSync } from '../../sys/durable-file';

export const CERT_DIR = 'certificates';
export const NODE_KEY_FILE = 'swarm-node.key';
export const NODE_CERT_FILE = 'swarm-node.crt';
export const ROOT_CA_FILE = 'swarm-root-ca.crt';

export interface NodeCredentials {
  keyPem: string;
  certPem: string;
  caPem: string;
}

export interface SecurityPaths {
  dir: string;
  key: string;
  cert: string;
  rootCA: string;
}

export function securityPaths(dataDir: string): SecurityPaths {
  const dir = path.join(dataDir, CERT_DIR);
  return { dir, key: path.join(dir, NODE_KEY_FILE), cert: path.join(dir, NODE_CERT_FILE), rootCA: path.join(dir, ROOT_CA_FILE) };
}

const writeAtomic = (file: string, data: string): void => writeFileDurableSync(file, data, { mode: 0o600 });

function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

const ENCRYPTED_KEY_PEM = '-----BEGIN ENCRYPTED PRIVATE KEY-----';

/** The plain PKCS#8 PEM of a key file's contents, opened with `kek` when encrypted. Throws when it cannot be opened. */
function openKeyPem(text: string, kek: Buffer | undefined): string {
  if (!text.startsWith(ENCRYPTED_KEY_PEM)) return text;
  if (!kek) throw failedPrecondition('the node key is encrypted with the unlock key: the swarm is locked');
  return createPrivateKey({ key: text, format: 'pem', passphrase: kek }).export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Reads and writes one node's key, certificate and trusted roots. */
export class NodeSecurity {
  readonly paths: SecurityPaths;
  private listeners = new Set<(c: NodeCredentials) => void>();
  /** The unlock key while autolock is on (held in memory only). */
  private kekBytes: Buffer | undefined;

  constructor(dataDir: string) {
    this.paths = securityPaths(dataDir);
  }

  private ensureDir(): void {
    fs.mkdirSync(this.paths.dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(this.paths.dir, 0o700);
  }

  /** True when a key, a certificate and a root CA are all on disk. */
  exists(): boolean {
    return [this.paths.key, this.paths.cert, this.paths.rootCA].every((f) => fs.existsSync(f));
  }

  /** The unlock key the node key is sealed with, if any. */
  get kek(): Buffer | undefined {
    return this.kekBytes;
  }

  /** True when the key file on disk is encrypted (autolock): it takes the unlock key to read it. */
  keyIsSealed(): boolean {
    return readIfExists(this.paths.key)?.startsWith(ENCRYPTED_KEY_PEM) ?? false;
  }

  /** Tries `kek` on the key file; on success it is held for every later read and write. */
  unlock(kek: Buffer): boolean {
    const text = readIfExists(this.paths.key);
    if (text === null) return false;
    try {
      openKeyPem(text, kek);
    } catch {
      return false;
    }
    this.kekBytes = kek;
    return true;
  }

  /**
   * Autolock on (a key), off (undefined) or a new unlock key: the key file is written again under it
   * (asynchronously: a manager's event loop keeps its Raft heartbeats meanwhile).
   */
  async setKek(kek: Buffer | undefined): Promise<void> {
    const text = readIfExists(this.paths.key);
    const plain = text === null ? null : openKeyPem(text, this.kekBytes);
    this.kekBytes = kek;
    if (plain !== null) await writeFileDurable(this.paths.key, this.sealKey(plain), { mode: 0o600 });
  }

  private sealKey(keyPem: string): string {
    if (!this.kekBytes) return keyPem;
    return createPrivateKey(keyPem).export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: this.kekBytes }).toString();
  }

  /** The stored root CA bundle, or null. */
  loadRootCA(): string | null {
    return readIfExists(this.paths.rootCA);
  }

  /** Everything, or null when any part is missing (a node that never joined, or left). */
  load(): NodeCredentials | null {
    const keyText = readIfExists(this.paths.key);
    const certPem = readIfExists(this.paths.cert);
    const caPem = readIfExists(this.paths.rootCA);
    if (keyText === null || certPem === null || caPem === null) return null;
    return { keyPem: openKeyPem(keyText, this.kekBytes), certPem, caPem };
  }

  /**
   * Loads and checks the credentials: the key matches the certificate and the certificate chains
   * to the stored root at `now`. Throws FailedPrecondition when they do not.
   */
  async loadVerified(now = Date.now()): Promise<(NodeCredentials & { info: CertInfo }) | null> {
    const c = this.load();
    if (!c) return null;
    if (!(await keyMatchesCert(c.keyPem, c.certPem))) throw failedPrecondition('node key does not match node certificate');
    try {
      await verifyCertChain(c.certPem, c.caPem, { now });
    } catch (e) {
      throw failedPrecondition(`node certificate is not valid: ${(e as Error).message}`);
    }
    return { ...c, info: certInfo(c.certPem) };
  }

  saveRootCA(caPem: string): void {
    this.ensureDir();
    writeAtomic(this.paths.rootCA, caPem);
  }

  /** Stores a new key + certificate (and optionally roots), then tells subscribers (TLS reloads). */
  save(c: Partial<NodeCredentials> & { keyPem: string; certPem: string }): void {
    this.ensureDir();
    if (c.caPem !== undefined) writeAtomic(this.paths.rootCA, c.caPem);
    // Key first: a crash between the two leaves a key that does not match the old cert, which
    // loadVerified reports instead of silently using a mismatched pair.
    writeAtomic(this.paths.key, this.sealKey(c.keyPem));
    writeAtomic(this.paths.cert, c.certPem);
    const full = this.load();
    if (full) for (const l of this.listeners) l(full);
  }

  /** Called after every save with the new credentials. Returns an unsubscribe function. */
  onChange(listener: (c: NodeCredentials) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Removes the node's identity (swarm leave). */
  remove(): void {
    this.kekBytes = undefined;
    for (const f of [this.paths.key, this.paths.cert, this.paths.rootCA]) fs.rmSync(f, { force: true });
  }
}
