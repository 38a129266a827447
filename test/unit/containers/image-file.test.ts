import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_USER_FILE_BYTES, readRootFile } from '../../../src/containers/image-file.js'
import { ResourceExhaustedError } from '../../../src/grpc/errors.js'

// A rootfs as a mounted image shows it, next to a "host" file a hostile image's symlinks point at.
let dir: string
let root: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdk-image-file-'))
  root = join(dir, 'rootfs')
  await mkdir(join(root, 'etc'), { recursive: true })
  await mkdir(join(root, 'usr/share'), { recursive: true })
  await writeFile(join(dir, 'host-secret'), 'host\n')
  await writeFile(join(root, 'usr/share/passwd'), 'app:x:1000:1000::/home/app:/bin/sh\n')
})
afterAll(async () => rm(dir, { recursive: true, force: true }))

describe('readRootFile', () => {
  it('follows an absolute symlink inside the root, not on the host', async () => {
    await symlink('/usr/share/passwd', join(root, 'etc/passwd'))
    expect((await readRootFile(root, 'etc/passwd'))?.toString()).toMatch(/^app:x:1000/)
    await rm(join(root, 'etc/passwd'))
  })

  it('never leaves the root through .. or absolute links', async () => {
    await symlink('../../host-secret', join(root, 'etc/group'))
    await symlink(join(dir, 'host-secret'), join(root, 'etc/shadow'))
    expect(await readRootFile(root, 'etc/group')).toBeUndefined()
    expect(await readRootFile(root, 'etc/shadow')).toBeUndefined()
    await rm(join(root, 'etc/group'))
    await rm(join(root, 'etc/shadow'))
  })

  it('gives up on symlink loops, directories and missing files', async () => {
    await symlink('loop-b', join(root, 'etc/loop-a'))
    await symlink('loop-a', join(root, 'etc/loop-b'))
    expect(await readRootFile(root, 'etc/loop-a')).toBeUndefined()
    expect(await readRootFile(root, 'etc')).toBeUndefined()
    expect(await readRootFile(root, 'etc/none')).toBeUndefined()
  })

  it('refuses a file over the bound with ResourceExhaustedError', async () => {
    await writeFile(join(root, 'etc/big'), Buffer.alloc(MAX_USER_FILE_BYTES + 1, 0x61))
    await expect(readRootFile(root, 'etc/big')).rejects.toBeInstanceOf(ResourceExhaustedError)
  })
})
