import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { NotFoundError, type Digest } from '../../src/index.js'
import { currentLease } from '../../src/client/lease-context.js'
import { LEASE_EXPIRE_LABEL } from '../../src/client/leases/lease-manager.js'
import { connectTestClient } from '../env/test-client.js'

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

  it('rejects invalid lease ids before calling', async () => {
    await expect(client.leases.create({ id: 'not valid!' })).rejects.toThrow(/not a valid containerd identifier/)
    expect(await client.leases.list({ filters: ['id==not valid!'] }).catch(() => [])).toEqual([])
  })
})
