/**
 * The host's device nodes, as a privileged container gets them (containerd's `WithHostDevices`, which
 * nerdctl and Docker apply with `--privileged`).
 */

import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { InvalidArgumentError } from '../grpc/errors.js'
import { deviceFromStat } from './device-spec.js'
import type { LinuxDevice } from './runtime-spec.js'

// Directories that hold no device of the host's own (pseudo-terminals, shm, fd links) or belong to
// another manager (LXC/LXD, udev's database): containerd skips the same names.
const SKIPPED_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev'])
// /dev is shallow (e.g. /dev/dri/by-path, /dev/net/tun); the bounds only guard against odd mounts.
const MAX_DEPTH = 8
const MAX_DEVICES = 10_000

/**
 * Lists the character and block devices under `root` (default `/dev`), recursively, with their paths in the
 * container equal to their host paths. Symbolic links and FIFOs are skipped, as are the directories
 * containerd skips and `console`.
 *
 * @throws InvalidArgumentError when `root` cannot be read; entries that vanish while listing are skipped.
 */
export async function listHostDevices(root = '/dev'): Promise<LinuxDevice[]> {
  const out: LinuxDevice[] = []
  try {
    await walk(root, 0, out)
  } catch (err) {
    throw new InvalidArgumentError(`--privileged: cannot list the host's devices under ${root} (${(err as Error).message})`, { cause: err })
  }
  return out
}

async function walk(dir: string, depth: number, out: LinuxDevice[]): Promise<void> {
  if (depth > MAX_DEPTH) return
  const entries = await readdir(dir, { withFileTypes: true })
  for (const entry of entries) {
    if (out.length >= MAX_DEVICES) return
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) await walk(path, depth + 1, out).catch(ignoreVanished)
      continue
    }
    if (entry.name === 'console' || !(entry.isCharacterDevice() || entry.isBlockDevice())) continue
    const stat = await lstat(path).catch(ignoreVanished)
    if (stat === undefined) continue
    out.push(deviceFromStat(path, path, stat))
  }
}

// A node removed between readdir and lstat (hot-unplug) is simply not listed.
function ignoreVanished(err: unknown): undefined {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
  throw err
}
