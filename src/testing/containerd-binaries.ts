import { execFile } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A containerd release line the test environment knows how to find and configure. */
export type ContainerdLine = '1.6' | '1.7' | '2.x'

/** Where a containerd build lives and what it reports about itself. */
export interface ContainerdBinary {
  /** The release line. */
  line: ContainerdLine
  /** Absolute path of the `containerd` executable. */
  path: string
  /** Directory prepended to the daemon's PATH so it finds its own shim (`containerd-shim-runc-v2`). */
  binDir: string
  /** The version string it prints, e.g. `1.7.24~ds1`. */
  version: string
}

/**
 * The cache directory holding containerd builds unpacked from newer Debian suites by `test/env/install.sh`
 * (`<dir>/1.7/usr/bin/containerd`, `<dir>/2.x/usr/bin/containerd`). Override with `CSDK_CACHE_DIR`.
 */
export function containerdCacheDir(): string {
  return process.env['CSDK_CACHE_DIR'] ?? '/var/cache/containerd-sdk'
}

/**
 * Finds the containerd binary for a release line: 1.6 is the machine's own `/usr/bin/containerd`
 * (Debian bookworm), 1.7 and 2.x come from the cache directory.
 */
export async function findContainerd(line: ContainerdLine = '1.6'): Promise<ContainerdBinary> {
  const binDir = line === '1.6' ? '/usr/bin' : join(containerdCacheDir(), line, 'usr', 'bin')
  const path = join(binDir, 'containerd')
  try {
    await access(path, constants.X_OK)
  } catch {
    throw new Error(
      `containerd ${line} is not installed at ${path}; run test/env/install.sh as root (it installs 1.6 from ` +
        'Debian bookworm and unpacks 1.7 and 2.x into the cache directory)',
    )
  }
  const { stdout } = await run(path, ['--version'])
  // "containerd github.com/containerd/containerd 1.7.24~ds1 <revision>"
  const version = stdout.trim().split(/\s+/)[2] ?? 'unknown'
  return { line, path, binDir, version }
}

/** Parses a comma-separated list like `1.6,1.7,2.x` (the `CONTAINERD_VERSIONS` format). */
export function parseContainerdLines(value: string): ContainerdLine[] {
  const lines = value.split(',').map((v) => v.trim()).filter((v) => v !== '')
  for (const line of lines) {
    if (line !== '1.6' && line !== '1.7' && line !== '2.x') {
      throw new Error(`unknown containerd version "${line}" in "${value}": use a comma-separated list of 1.6, 1.7 and 2.x`)
    }
  }
  return lines as ContainerdLine[]
}
