/**
 * Throwaway X.509 material made with the `openssl` CLI: Node can parse certificates but not issue them.
 * Everything lives one day and is written into the caller's temp dir.
 */

import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runTool } from './run-tool.js'

const OPENSSL = 'openssl'
const DAYS = '1'
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

/** A CA and a server certificate signed by it, valid for 127.0.0.1 and localhost. */
export interface ServerCertificates {
  /** PEM file of the CA (what clients trust). */
  readonly caFile: string
  /** Contents of {@link caFile}. */
  readonly caPem: string
  /** PEM file of the server certificate. */
  readonly certFile: string
  /** PEM file of the server's private key. */
  readonly keyFile: string
  /**
   * A directory holding only `ca.crt`, the layout of `--cert-dir` in skopeo and of containerd's
   * `certs.d/<host>/` directories.
   */
  readonly certDir: string
}

/** A throwaway CA that can sign server certificates. */
export interface CertificateAuthority {
  /** PEM file of the CA certificate (what clients trust). */
  readonly caFile: string
  /** PEM file of its private key. */
  readonly keyFile: string
}

/**
 * Makes a CA under `dir`: one per registry by default, or one for a whole test run when a daemon must
 * trust it before any registry exists (containerd 1.7's Transfer service only trusts the system roots,
 * which Go reads once from `SSL_CERT_FILE`).
 */
export async function makeCertificateAuthority(dir: string): Promise<CertificateAuthority> {
  await mkdir(dir, { recursive: true })
  const keyFile = join(dir, 'ca.key')
  const caFile = join(dir, 'ca.pem')
  await runTool(OPENSSL, [
    'req', '-x509', ...EC, '-keyout', keyFile, '-out', caFile, '-days', DAYS, '-subj', '/CN=containerd-sdk test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ])
  return { caFile, keyFile }
}

/**
 * Makes a server certificate with SAN IP:127.0.0.1 and DNS:localhost under `dir`, signed by `ca` or by
 * a new CA made beside it. P-256 keys: generated in milliseconds, and every TLS client involved (Go,
 * Node) supports them.
 */
export async function makeServerCertificates(dir: string, ca?: CertificateAuthority): Promise<ServerCertificates> {
  await mkdir(dir, { recursive: true })
  const { caFile, keyFile: caKey } = ca ?? (await makeCertificateAuthority(dir))
  const keyFile = join(dir, 'server.key')
  const csr = join(dir, 'server.csr')
  const certFile = join(dir, 'server.pem')
  const ext = join(dir, 'server.ext')
  await runTool(OPENSSL, ['req', '-new', ...EC, '-keyout', keyFile, '-out', csr, '-subj', '/CN=127.0.0.1'])
  // Go (the registry) and Node ignore the CN; the SAN is what makes 127.0.0.1 and localhost verify.
  await writeFile(ext, [
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    '',
  ].join('\n'))
  // -CAserial beside the server certificate: a shared CA's directory may be read-only to this run.
  await runTool(OPENSSL, [
    'x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAserial', join(dir, 'ca.srl'), '-CAcreateserial',
    '-out', certFile, '-days', DAYS, '-sha256', '-extfile', ext,
  ])
  const caPem = await readFile(caFile, 'utf8')
  const certDir = join(dir, 'cert-dir')
  await mkdir(certDir, { recursive: true })
  await writeFile(join(certDir, 'ca.crt'), caPem)
  return { caFile, caPem, certFile, keyFile, certDir }
}

/** A self-signed RSA certificate whose key signs registry tokens. */
export interface SigningCertificate {
  /** PEM file of the certificate; the registry's `auth.token.rootcertbundle`. */
  readonly certFile: string
  /** Contents of {@link certFile}. */
  readonly certPem: string
  /** PEM (PKCS#8) of the private key. */
  readonly keyPem: string
}

/**
 * Makes the token signer: RSA because the tokens are RS256, self-signed because distribution verifies
 * a token's `x5c` chain against `rootcertbundle`, and a lone self-signed certificate that is in that
 * bundle is a complete chain.
 */
export async function makeSigningCertificate(dir: string): Promise<SigningCertificate> {
  await mkdir(dir, { recursive: true })
  const keyFile = join(dir, 'token-signer.key')
  const certFile = join(dir, 'token-signer.pem')
  await runTool(OPENSSL, [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', DAYS,
    '-subj', '/CN=containerd-sdk token signer',
  ])
  return { certFile, certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') }
}
