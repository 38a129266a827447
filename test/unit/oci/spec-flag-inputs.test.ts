import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { capabilitiesFromMask, KNOWN_CAPABILITIES } from '../../../src/oci/capabilities.js'
import { listHostDevices } from '../../../src/oci/host-devices.js'
import { INIT_BINARY_CANDIDATES, readSpecFlagInputs } from '../../../src/oci/spec-flag-inputs.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdk-flag-inputs-'))
})
afterAll(async () => rm(dir, { recursive: true, force: true }))

describe('readSpecFlagInputs', () => {
  it('reads env files in order, naming each', async () => {
    await writeFile(join(dir, 'a.env'), 'A=1\n')
    await writeFile(join(dir, 'b.env'), 'B=2\n')
    const inputs = await readSpecFlagInputs({ envFile: [join(dir, 'a.env'), join(dir, 'b.env')] }, 'c1')
    expect(inputs.envFiles).toEqual([{ name: join(dir, 'a.env'), text: 'A=1\n' }, { name: join(dir, 'b.env'), text: 'B=2\n' }])
    expect((await readSpecFlagInputs({ envFile: join(dir, 'a.env') }, 'c1')).envFiles).toHaveLength(1)
    await expect(readSpecFlagInputs({ envFile: join(dir, 'missing.env') }, 'c1')).rejects.toThrow(/--env-file: cannot read .*missing\.env/)
    await expect(readSpecFlagInputs({ envFile: dir }, 'c1')).rejects.toBeInstanceOf(InvalidArgumentError)
  })

  it('replaces a seccomp profile path with the profile text and leaves other options alone', async () => {
    const profile = join(dir, 'profile.json')
    await writeFile(profile, '{"defaultAction":"SCMP_ACT_ALLOW"}')
    const parsed = { seccomp: 'unconfined' as const }
    const inputs = await readSpecFlagInputs({ securityOpt: [`seccomp=${profile}`, 'seccomp=unconfined', 'no-new-privileges', '{"x":1}', parsed, 'seccomp={"defaultAction":"SCMP_ACT_LOG"}'] }, 'c1')
    expect(inputs.securityOpt).toEqual(['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}', 'seccomp=unconfined', 'no-new-privileges', '{"x":1}', parsed, 'seccomp={"defaultAction":"SCMP_ACT_LOG"}'])
    await expect(readSpecFlagInputs({ securityOpt: ['seccomp=/nonexistent.json'] }, 'c1')).rejects.toThrow(/--security-opt seccomp: cannot read \/nonexistent\.json/)
  })

  it('stats devices following symlinks, with a typed error for a missing node', async () => {
    const inputs = await readSpecFlagInputs({ devices: ['/dev/null'] }, 'c1')
    expect(Number(inputs.statDevice?.('/dev/null').rdev)).toBeGreaterThan(0)
    expect(() => inputs.statDevice?.('/dev/nonexistent-node')).toThrow(/--device: cannot stat \/dev\/nonexistent-node/)
    expect((await readSpecFlagInputs({}, 'c1')).statDevice).toBeUndefined()
  })

  it('checks an init binary given by path and finds the default one', async () => {
    await expect(readSpecFlagInputs({ init: 'tini' }, 'c1')).rejects.toThrow(/must be an absolute host path/)
    await expect(readSpecFlagInputs({ init: join(dir, 'none') }, 'c1')).rejects.toThrow(/--init: cannot use/)
    await expect(readSpecFlagInputs({ init: dir }, 'c1')).rejects.toThrow(/is not a file/)
    expect((await readSpecFlagInputs({ init: '/bin/sh' }, 'c1')).initBinary).toBe('/bin/sh')
    expect((await readSpecFlagInputs({ init: false }, 'c1')).initBinary).toBeUndefined()
    const found = await readSpecFlagInputs({ init: true }, 'c1').then((i) => i.initBinary, (err: Error) => err.name)
    // tini is installed by test/env/install.sh; elsewhere the error says how to get it.
    expect([...INIT_BINARY_CANDIDATES, 'FailedPreconditionError']).toContain(found)
  })

  it('gives a privileged container the host devices and this process\'s bounding capabilities', async () => {
    const inputs = await readSpecFlagInputs({ privileged: true }, 'c1')
    expect(inputs.hostDevices?.some((d) => d.path === '/dev/null' && d.type === 'c' && d.major === 1 && d.minor === 3)).toBe(true)
    expect(inputs.privilegedCapabilities).toContain('CAP_CHOWN')
    expect((await readSpecFlagInputs({}, 'c1')).hostDevices).toBeUndefined()
  })
})

describe('capabilitiesFromMask', () => {
  it('names the bits of a /proc status mask', () => {
    expect(capabilitiesFromMask('000001ffffffffff')).toEqual(KNOWN_CAPABILITIES)
    expect(capabilitiesFromMask('000001fffeffffff')).not.toContain('CAP_SYS_RESOURCE')
    expect(capabilitiesFromMask('a80425fb')).toEqual([
      'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
      'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE', 'CAP_SETFCAP',
    ])
    expect(capabilitiesFromMask('0')).toEqual([])
    expect(() => capabilitiesFromMask('xyz')).toThrow(InvalidArgumentError)
  })
})

describe('listHostDevices', () => {
  // mknod needs root, which the test environment has (test/env/install.sh runs as root).
  it.skipIf(process.getuid?.() !== 0)('lists character and block devices recursively, skipping FIFOs, links, console and containerd\'s skipped dirs', async () => {
    const root = join(dir, 'dev')
    await mkdir(join(root, 'sub'), { recursive: true })
    await mkdir(join(root, 'pts'))
    const run = promisify(execFile)
    await run('mknod', [join(root, 'null'), 'c', '1', '3'])
    await run('mknod', [join(root, 'sub', 'zero'), 'c', '1', '5'])
    await run('mknod', [join(root, 'pts', '0'), 'c', '136', '0'])
    await run('mknod', [join(root, 'console'), 'c', '5', '1'])
    await run('mkfifo', [join(root, 'fifo')])
    await run('ln', ['-s', 'null', join(root, 'link')])
    await writeFile(join(root, 'file'), '')
    const devices = await listHostDevices(root)
    expect(devices.map((d) => [d.path, d.type, d.major, d.minor]).sort()).toEqual([
      [join(root, 'null'), 'c', 1, 3],
      [join(root, 'sub', 'zero'), 'c', 1, 5],
    ])
    await expect(listHostDevices(join(dir, 'nowhere'))).rejects.toThrow(/cannot list the host's devices/)
  })

  it('finds /dev/null on this host', async () => {
    expect((await listHostDevices()).find((d) => d.path === '/dev/null')).toMatchObject({ type: 'c', major: 1, minor: 3 })
  })
})
