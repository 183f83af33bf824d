/**
 * TLS material of one process: the CA that signs every Braid certificate,
 * and this process's own certificate and key. The same object serves the
 * process's listeners (Braid protocol and HTTPS) and its outgoing
 * connections, so a reload (SIGHUP, or reload() from an embedding program)
 * changes all of them at once: listeners through setSecureContext, new
 * outgoing connections through a new client context. Connections already
 * open keep the session they have.
 *
 * Everything is read from files, never passed as content on a command line.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext, type ConnectionOptions, type SecureContext, type SecureContextOptions, type TlsOptions } from 'node:tls';
import { BraidError, ErrorCodes } from '../protocol/index.js';

export interface TlsFiles {
  /** PEM bundle of the CA(s) that sign Braid's certificates: servers are checked against it, and cluster roles' client certificates. */
  readonly caFile: string;
  /** This process's certificate chain (PEM). Needed to listen with TLS; cluster roles also present it as their client certificate. */
  readonly certFile?: string;
  /** The private key of certFile (PEM). */
  readonly keyFile?: string;
}

/** What a caller may pass wherever TLS is an option: loaded material, or the files to load. */
export type TlsInput = TlsMaterial | TlsFiles;

/** Anything whose secure context can be swapped while it runs (tls.Server, https.Server). */
export interface SecureContextHolder {
  setSecureContext(options: SecureContextOptions): void;
}

interface Loaded {
  ca: Buffer;
  cert: Buffer | undefined;
  key: Buffer | undefined;
  client: SecureContext;
}

const MIN_VERSION = 'TLSv1.2';

function configError(message: string, cause?: unknown): BraidError {
  return new BraidError(ErrorCodes.CONFIG, message, { retriable: false, cause });
}

function read(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw configError(`TLS ${option} ${path}: cannot read it (${(err as Error).message})`, err);
  }
}

function load(files: TlsFiles): Loaded {
  if (typeof files.caFile !== 'string' || files.caFile === '') throw configError('TLS needs a CA file (tlsCaFile)');
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
    throw configError('TLS needs both a certificate file and its key file (tlsCertFile and tlsKeyFile), or neither');
  }
  const ca = read('CA file', files.caFile);
  const cert = files.certFile === undefined ? undefined : read('certificate file', files.certFile);
  const key = files.keyFile === undefined ? undefined : read('key file', files.keyFile);
  let client: SecureContext;
  try {
    client = createSecureContext({ ca, cert, key, minVersion: MIN_VERSION });
  } catch (err) {
    // OpenSSL's reason (e.g. "key values mismatch"), never the key itself.
    throw configError(`TLS files ${[files.caFile, files.certFile, files.keyFile].filter(Boolean).join(', ')} are not usable: ${(err as Error).message}`, err);
  }
  return { ca, cert, key, client };
}

export class TlsMaterial {
  private loaded: Loaded;
  private readonly holders = new Set<SecureContextHolder>();
  private reloads = 0;

  private constructor(readonly files: TlsFiles) {
    this.loaded = load(files);
  }

  /** Reads the files now; a missing or unusable file is a BRAID_ERR_CONFIG naming it. */
  static fromFiles(files: TlsFiles): TlsMaterial {
    return new TlsMaterial({ ...files });
  }

  static resolve(input: TlsInput | undefined): TlsMaterial | undefined {
    if (input === undefined) return undefined;
    return input instanceof TlsMaterial ? input : TlsMaterial.fromFiles(input);
  }

  /** True when this material has a certificate and key, so a listener can use it. */
  get canServe(): boolean {
    return this.loaded.cert !== undefined && this.loaded.key !== undefined;
  }

  /** How many times the files were read again since start. */
  get reloadCount(): number {
    return this.reloads;
  }

  /**
   * Options of a listener: its certificate, and a request for the peer's;
   * a missing or foreign client certificate is not fatal to TLS itself:
   * the handshake decides by role (cluster roles must present one).
   */
  serverOptions(): TlsOptions {
    if (!this.canServe) throw configError('TLS: a listener needs a certificate and key (tlsCertFile, tlsKeyFile)');
    return { ...this.contextOptions(), requestCert: true, rejectUnauthorized: false, minVersion: MIN_VERSION };
  }

  /** Options of an outgoing connection to `host`: the server must present a certificate of the CA, valid for `host`. */
  clientOptions(host: string): ConnectionOptions {
    return {
      secureContext: this.loaded.client,
      rejectUnauthorized: true,
      minVersion: MIN_VERSION,
      // SNI is for host names only; certificates of IP addresses are checked against their IP SANs.
      ...(isIP(host) === 0 ? { servername: host } : {}),
    };
  }

  /** Registers a listener for reloads; returns the function that unregisters it. */
  attach(holder: SecureContextHolder): () => void {
    this.holders.add(holder);
    return () => this.holders.delete(holder);
  }

  /**
   * Reads the files again and hands the new certificate to every attached
   * listener. If a file cannot be read or the pair does not match, nothing
   * changes and the error is thrown: a half-written renewal never replaces a
   * working certificate.
   */
  reload(): void {
    const next = load(this.files);
    this.loaded = next;
    for (const h of this.holders) h.setSecureContext({ ...this.contextOptions(), minVersion: MIN_VERSION });
    this.reloads++;
  }

  private contextOptions(): SecureContextOptions {
    const { ca, cert, key } = this.loaded;
    return { ca, cert, key };
  }
}
