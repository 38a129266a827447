/**
 * Reads what Docker `run` flags need from the host: env files, seccomp profile files, the init binary, device
 * nodes, and whether the kernel can take a block I/O weight. The daemon runs on this host (its socket is a
 * local unix socket), so host paths mean the same to both.
 */

import { constants, statSync } from 'node:fs'
import { access, readFile, stat } from 'node:fs/promises'
import { FailedPreconditionError, InvalidArgumentError } from '../grpc/errors.js'
import { capabilitiesFromMask } from './capabilities.js'
import type { DeviceStat } from './device-spec.js'
import { listHostDevices } from './host-devices.js'
import { checkSpecFlagShapes, type SecurityOpt, type SpecFlagInputs, type SpecFlags } from './spec-flags.js'

/**
 * Where `init: true` looks for a static init binary, in order: Debian's `tini` package, then the names
 * Docker packages use for the same binary.
 */
export const INIT_BINARY_CANDIDATES: readonly string[] = Object.freeze([
  '/usr/bin/tini-static',
  '/usr/sbin/docker-init',
  '/usr/bin/docker-init',
  '/usr/libexec/docker/docker-init',
])

// Env and seccomp files are small; a bigger one is a mistake (a wrong path), not data to load.
const MAX_FILE_BYTES = 4 * 1024 * 1024

/** Where the cgroup v1 blkio controller is mounted on hybrid and legacy hosts. */
const BLKIO_V1 = '/sys/fs/cgroup/blkio'

/**
 * Reads the host files and facts the flags refer to.
 *
 * @throws InvalidArgumentError for a flag value of the wrong shape (see `checkSpecFlagShapes`), or an env
 * file, seccomp profile file, init binary or device that cannot be read; FailedPreconditionError when
 * `init: true` finds no init binary, or `blkioWeight` is set on a kernel whose block I/O controller has
 * no weight file.
 */
export async function readSpecFlagInputs(flags: SpecFlags, id: string): Promise<SpecFlagInputs> {
  // Before any file is read: a string where a list belongs would be read per character.
  checkSpecFlagShapes(flags)
  const inputs: SpecFlagInputs = { id }
  if (flags.envFile !== undefined) {
    const files = typeof flags.envFile === 'string' ? [flags.envFile] : flags.envFile
    inputs.envFiles = await Promise.all(files.map(async (name) => ({ name, text: await readSmallFile(name, '--env-file') })))
  }
  if (flags.securityOpt !== undefined) inputs.securityOpt = await Promise.all(flags.securityOpt.map(readSeccompFile))
  if (flags.devices !== undefined && flags.devices.length > 0) inputs.statDevice = statDevice
  if (flags.privileged === true) {
    inputs.hostDevices = await listHostDevices()
    const capabilities = await boundingCapabilities()
    if (capabilities !== undefined) inputs.privilegedCapabilities = capabilities
  }
  if (flags.init !== undefined && flags.init !== false) inputs.initBinary = await findInitBinary(flags.init)
  if (flags.blkioWeight !== undefined) await checkBlkioWeight()
  return inputs
}

async function readSmallFile(path: string, flag: string): Promise<string> {
  let size: number
  try {
    size = (await stat(path)).size
  } catch (err) {
    throw new InvalidArgumentError(`${flag}: cannot read ${path} (${(err as Error).message})`, { cause: err })
  }
  if (size > MAX_FILE_BYTES) throw new InvalidArgumentError(`${flag}: ${path} is ${size} bytes, more than a ${flag} file can be; check the path`)
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new InvalidArgumentError(`${flag}: cannot read ${path} (${(err as Error).message})`, { cause: err })
  }
}

// `seccomp=<path>` names a profile file, which Docker reads on the client side; the option itself takes JSON.
async function readSeccompFile(opt: SecurityOpt): Promise<SecurityOpt> {
  if (typeof opt !== 'string') return opt
  const match = /^seccomp[=:](.+)$/s.exec(opt)
  const value = match?.[1]
  if (value === undefined || value === 'unconfined' || value === 'builtin' || value.trimStart().startsWith('{')) return opt
  return `seccomp=${await readSmallFile(value, '--security-opt seccomp')}`
}

// containerd gives a privileged container the daemon's own capabilities, and runc fails to start one asked
// for more. This process's bounding set is the same on an ordinary host and, in a restricted environment
// (a container without CAP_SYS_RESOURCE, say), the limit every process there shares, the daemon included.
async function boundingCapabilities(): Promise<string[] | undefined> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => undefined)
  const mask = status === undefined ? undefined : /^CapBnd:\s*([0-9a-fA-F]+)$/m.exec(status)?.[1]
  return mask === undefined ? undefined : capabilitiesFromMask(mask)
}

// Follows symlinks (udev's /dev/disk/by-id/… names), as containerd does for a path asked for by name.
function statDevice(path: string): DeviceStat {
  try {
    return statSync(path)
  } catch (err) {
    throw new InvalidArgumentError(`--device: cannot stat ${path} (${(err as Error).message}); pass an existing device node such as /dev/fuse`, { cause: err })
  }
}

async function findInitBinary(init: true | string): Promise<string> {
  if (typeof init === 'string') {
    if (!init.startsWith('/')) throw new InvalidArgumentError(`--init: "${init}" must be an absolute host path to a static init binary (e.g. /usr/bin/tini-static)`)
    const info = await stat(init).catch((err: unknown) => {
      throw new InvalidArgumentError(`--init: cannot use ${init} (${(err as Error).message})`, { cause: err })
    })
    if (!info.isFile()) throw new InvalidArgumentError(`--init: ${init} is not a file; pass the path of a static init binary`)
    return init
  }
  for (const candidate of INIT_BINARY_CANDIDATES) {
    const found = await access(candidate, constants.X_OK).then(() => true, () => false)
    if (found) return candidate
  }
  throw new FailedPreconditionError(
    `--init: no init binary found (looked for ${INIT_BINARY_CANDIDATES.join(', ')}); install Debian's tini package, or pass init: '/path/to/static-init'`,
  )
}

// runc writes blkio.bfq.weight or blkio.weight and fails the start when neither exists (no BFQ or CFQ
// scheduler); nerdctl drops the weight with a warning. Saying so at create time is clearer than either.
// cgroup v2 hosts create io.weight per cgroup, so only v1 can be checked from here.
async function checkBlkioWeight(): Promise<void> {
  const v1 = await stat(BLKIO_V1).then((s) => s.isDirectory(), () => false)
  if (!v1) return
  for (const file of ['blkio.bfq.weight', 'blkio.weight']) {
    if (await access(`${BLKIO_V1}/${file}`).then(() => true, () => false)) return
  }
  throw new FailedPreconditionError(
    '--blkio-weight: this kernel offers no block I/O weight (no blkio.weight or blkio.bfq.weight: the disks use no CFQ or BFQ scheduler); omit blkioWeight',
  )
}
