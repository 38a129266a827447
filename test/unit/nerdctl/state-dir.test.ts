import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { generateContainerId } from '../../../src/nerdctl/container-id.js'
import { containerStateDir } from '../../../src/nerdctl/data-store.js'
import {
  createStateDir,
  readLifecycle,
  readNetworkConfig,
  recordStarted,
  removeStateDir,
  writeNetworkConfig,
} from '../../../src/nerdctl/state-dir.js'

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'csdk-state-'))
})
afterAll(async () => rm(root, { recursive: true, force: true }))

describe('state dir', () => {
  it('is created 0700 with hostname (0644) and network-config.json (0600), as nerdctl create leaves it', async () => {
    const id = generateContainerId()
    const dir = containerStateDir(join(root, 'store'), 'default', id)
    await createStateDir(dir, { hostname: id.slice(0, 12) })
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    expect((await stat(join(root, 'store', 'containers', 'default'))).mode & 0o777).toBe(0o700)
    expect(await readFile(join(dir, 'hostname'), 'utf8')).toBe(`${id.slice(0, 12)}\n`)
    expect((await stat(join(dir, 'hostname'))).mode & 0o777).toBe(0o644)
    expect(await readFile(join(dir, 'network-config.json'), 'utf8')).toBe('{}')
    expect((await stat(join(dir, 'network-config.json'))).mode & 0o777).toBe(0o600)
    expect((await readdir(dir)).sort()).toEqual(['hostname', 'network-config.json'])
    await removeStateDir(dir)
    await expect(stat(dir)).rejects.toThrow()
    await removeStateDir(dir) // a missing dir is fine
  })

  it('refuses a hostname with a line break and leaves no dir', async () => {
    const dir = join(root, 'bad')
    await expect(createStateDir(dir, { hostname: 'a\nb' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(stat(dir)).rejects.toThrow()
  })

  it('records StartedAt in lifecycle.json in nerdctl’s format', async () => {
    const dir = join(root, 'life')
    await createStateDir(dir)
    expect(await readLifecycle(dir)).toEqual({ startedAt: undefined, createError: false })
    const at = new Date('2024-05-06T07:08:09.123Z')
    await recordStarted(dir, at)
    expect(JSON.parse(await readFile(join(dir, 'lifecycle.json'), 'utf8'))).toEqual({ started_at: '2024-05-06T07:08:09.123Z', create_error: false })
    expect((await stat(join(dir, 'lifecycle.json'))).mode & 0o777).toBe(0o600)
    expect(await readLifecycle(dir)).toEqual({ startedAt: at, createError: false })
    // What nerdctl's Go code writes: nanoseconds and a zone offset; and its zero time.
    await writeFile(join(dir, 'lifecycle.json'), '{"started_at":"2024-05-06T09:08:09.123456789+02:00","create_error":true}')
    expect(await readLifecycle(dir)).toEqual({ startedAt: new Date('2024-05-06T07:08:09.123Z'), createError: true })
    await writeFile(join(dir, 'lifecycle.json'), '{"started_at":"0001-01-01T00:00:00Z","create_error":false}')
    expect((await readLifecycle(dir)).startedAt).toBeUndefined()
    // Reading a missing state dir does not create it.
    expect(await readLifecycle(join(root, 'nowhere'))).toEqual({ startedAt: undefined, createError: false })
    await expect(stat(join(root, 'nowhere'))).rejects.toThrow()
  })

  it('writes and reads published ports in network-config.json', async () => {
    const dir = join(root, 'net')
    const ports = [{ HostPort: 8080, ContainerPort: 80, Protocol: 'tcp', HostIP: '127.0.0.1' }]
    await createStateDir(dir, { portMappings: ports })
    expect(await readFile(join(dir, 'network-config.json'), 'utf8')).toBe(
      '{"portMappings":[{"HostPort":8080,"ContainerPort":80,"Protocol":"tcp","HostIP":"127.0.0.1"}]}',
    )
    expect(await readNetworkConfig(dir)).toEqual(ports)
    await writeNetworkConfig(dir, [])
    expect(await readNetworkConfig(dir)).toEqual([])
    expect(await readNetworkConfig(join(root, 'none'))).toEqual([])
  })
})
