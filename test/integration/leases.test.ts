import { AsyncLocalStorage } from 'node:async_hooks'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { NotFoundError, type Digest } from '../../src/index.js'
import { currentLease } from '../../src/client/lease-context.js'
import { LEASE_EXPIRE_LABEL } from '../../src/client/leases/lease-manager.js'
import { writeBusyboxImageArchive } from '../../src/testing/busybox-archive.js'
import { connectTestClient } from '../env/test-client.js'
import { uniqueId } from '../env/runnable-image.js'

const client = await connectTestClient('leases')

function sha256(data: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

describe('leases', () => {
  it('creates, lists and deletes leases with labels and expiry', async () => {
    const lease = await client.leases.create({ id: 'my-lease', labels: { purpose: 'test' }, expiresInMs: 60_000 })
    expect(lease.id).toBe('my-lease')
    expect(lease.createdAt).toBeInstanceOf(Date)
    const listed = await client.leases.list({ filters: ['id==my-lease'] })
    expect(listed).toHaveLength(1)
    expect(listed[0]?.labels['purpose']).toBe('test')
    const expiry = Date.parse(listed[0]?.labels[LEASE_EXPIRE_LABEL] ?? '')
    expect(expiry).toBeGreaterThan(Date.now() + 50_000)
    expect(expiry).toBeLessThan(Date.now() + 70_000)

    await lease.delete()
    await lease.delete() // idempotent
    expect(await client.leases.list({ filters: ['id==my-lease'] })).toEqual([])
    await expect(client.leases.delete('my-lease')).rejects.toBeInstanceOf(NotFoundError)
  })

  it('generates unique ids and deletes on await using', async () => {
    let id = ''
    {
      await using lease = await client.leases.create()
      id = lease.id
      expect((await client.leases.list()).map((l) => l.id)).toContain(id)
    }
    expect((await client.leases.list()).map((l) => l.id)).not.toContain(id)
  })

  it('adds, lists and removes resources (LeaseResources)', async () => {
    await using lease = await client.leases.create()
    const digest = sha256(Buffer.from('leased'))
    await client.leases.addResource(lease.id, { id: digest, type: 'content' })
    await client.leases.addResource(lease.id, { id: 'some-snapshot', type: 'snapshots/overlayfs' })
    const resources = await client.leases.listResources(lease.id)
    expect(resources).toEqual(expect.arrayContaining([{ id: digest, type: 'content' }, { id: 'some-snapshot', type: 'snapshots/overlayfs' }]))
    await client.leases.deleteResource(lease.id, { id: digest, type: 'content' })
    expect(await client.leases.listResources(lease.id)).toEqual([{ id: 'some-snapshot', type: 'snapshots/overlayfs' }])
  })

  it('withLease protects what is written inside it until it is released', async () => {
    const data = Buffer.from(`protected by a lease ${Date.now()}`)
    let seenLease = ''
    const digest = await client.withLease(async (leaseId) => {
      seenLease = leaseId
      expect(currentLease()).toBe(leaseId)
      // No gc.root label: only the lease keeps this blob.
      const d = await client.content.writeBlob(data, { expected: sha256(data) })
      const resources = await client.leases.listResources(leaseId)
      expect(resources).toContainEqual({ id: d, type: 'content' })
      return d
    })
    expect(currentLease()).toBeUndefined()
    expect((await client.leases.list()).map((l) => l.id)).not.toContain(seenLease)

    // With the lease gone the blob is garbage: a synchronous GC (triggered by deleting another lease
    // with sync) removes it.
    const trigger = await client.leases.create()
    await trigger.delete({ sync: true })
    await expect(client.content.info(digest)).rejects.toBeInstanceOf(NotFoundError)
  })

  it('withLease releases the lease when the callback throws', async () => {
    let seenLease = ''
    await expect(
      client.withLease(async (leaseId) => {
        seenLease = leaseId
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expect(seenLease).not.toBe('')
    expect((await client.leases.list()).map((l) => l.id)).not.toContain(seenLease)
  })

  it("the SDK's own leased operations (import with unpack, container create) never enter AsyncLocalStorage", async () => {
    // On Node 22 the first AsyncLocalStorage.run turns promise hooks on for the whole process: the SDK's
    // operations carry their lease on a lease view of the client instead; only withLease's callers pay.
    const dir = await mkdtemp(join(tmpdir(), 'csdk-leases-als-'))
    const run = vi.spyOn(AsyncLocalStorage.prototype, 'run')
    const enterWith = vi.spyOn(AsyncLocalStorage.prototype, 'enterWith')
    try {
      const before = new Set((await client.leases.list()).map((l) => l.id))
      const archive = join(dir, 'busybox.tar')
      await writeBusyboxImageArchive(archive, { name: 'docker.io/library/busybox:leases-als' })
      const [imported] = await client.images.import(archive)
      expect(imported?.name).toBe('docker.io/library/busybox:leases-als')
      const image = await client.images.get('docker.io/library/busybox:leases-als')
      expect(await image.isUnpacked()).toBe(true)
      const container = await client.containers.create(uniqueId('leases-als'), { image, args: ['true'] })
      const task = await container.newTask()
      const exited = task.wait()
      await task.start()
      expect((await exited).exitCode).toBe(0)
      await task.delete()
      await container.delete()
      expect(run).not.toHaveBeenCalled()
      expect(enterWith).not.toHaveBeenCalled()
      // Their leases are gone (no renewing chain was left behind).
      expect((await client.leases.list()).map((l) => l.id).filter((id) => !before.has(id))).toEqual([])
      // withLease still puts its lease in the async context for the calls inside it.
      await client.withLease(async (leaseId) => expect(currentLease()).toBe(leaseId))
      expect(run).toHaveBeenCalled()
    } finally {
      run.mockRestore()
      enterWith.mockRestore()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('rejects invalid lease ids before calling', async () => {
    await expect(client.leases.create({ id: 'not valid!' })).rejects.toThrow(/not a valid containerd identifier/)
    expect(await client.leases.list({ filters: ['id==not valid!'] }).catch(() => [])).toEqual([])
  })
})
