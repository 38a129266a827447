import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startContainerd } from '../../src/testing/containerd-daemon.js'
import { findContainerd, parseContainerdLines, type ContainerdLine } from '../../src/testing/containerd-binaries.js'
import { makeCertificateAuthority, type CertificateAuthority } from './registry/certificates.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Socket of the containerd this project's tests talk to. */
    containerdAddress: string
    /** Release line of that containerd (1.6, 1.7, 2.x), or `external` for CONTAINERD_ADDRESS. */
    containerdLine: ContainerdLine | 'external'
    /** The version it reports. */
    containerdVersion: string
    /** Its restart monitor's reconcile interval in ms (containerd's default, 10 s, for an external daemon). */
    restartMonitorIntervalMs: number
    /**
     * A CA the daemon trusts (through `SSL_CERT_FILE`), for TLS registries it must reach itself: pass it
     * to `startRegistry({ ca })`. Undefined for an external daemon, which trusts only its own roots.
     */
    daemonTrustedCa: CertificateAuthority | undefined
  }
}

const RESTART_MONITOR_INTERVAL_MS = 1_000

/**
 * Starts the private containerd of one integration project (one per release line, see
 * vitest.config.ts) and stops it after the project's files ran. With CONTAINERD_ADDRESS set, the tests
 * use that daemon instead and start nothing.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The line's private CNI conf dir (see vitest.config.ts), gone with the project.
  const netconf = project.config.env['NETCONFPATH']
  if (netconf !== undefined && netconf !== '') {
    await mkdir(String(netconf), { recursive: true })
  }
  const dropNetconf = async (): Promise<void> => {
    if (netconf !== undefined && netconf !== '') await rm(String(netconf), { recursive: true, force: true })
  }
  const external = process.env['CONTAINERD_ADDRESS']
  if (external !== undefined && external !== '') {
    project.provide('containerdAddress', external.replace(/^unix:\/\//, ''))
    project.provide('containerdLine', 'external')
    project.provide('containerdVersion', 'external')
    project.provide('restartMonitorIntervalMs', 10_000)
    project.provide('daemonTrustedCa', undefined)
    return dropNetconf
  }
  const line = parseContainerdLines(String(project.config.env['CSDK_CONTAINERD_LINE'] ?? '1.6'))[0] ?? '1.6'
  const binary = await findContainerd(line)
  // containerd 1.7's Transfer service reads no hosts.toml and speaks only HTTPS with the system's roots,
  // so the transfer tests' registries use certificates from a CA the daemon trusts from its start.
  const caDir = await mkdtemp(join(tmpdir(), 'csdk-daemon-ca-'))
  const ca = await makeCertificateAuthority(caDir)
  // A short restart-monitor interval lets restart-policy tests see restarts within a second or two; the
  // monitor only looks at containers with restart labels, so other tests are not affected.
  const daemon = await startContainerd({ binary, restartMonitorIntervalMs: RESTART_MONITOR_INTERVAL_MS, trustedCaFiles: [ca.caFile] })
    .catch(async (err: unknown) => {
      await rm(caDir, { recursive: true, force: true })
      throw err
    })
  project.provide('containerdAddress', daemon.address)
  project.provide('containerdLine', line)
  project.provide('containerdVersion', binary.version)
  project.provide('restartMonitorIntervalMs', RESTART_MONITOR_INTERVAL_MS)
  project.provide('daemonTrustedCa', ca)
  return async () => {
    await daemon.stop()
    await rm(caDir, { recursive: true, force: true })
    await dropNetconf()
  }
}
