import { describe, expect, it } from 'vitest'
import { AlreadyExistsError, Client, FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../../src/index.js'
import { daemonAddress, uniqueNamespace } from '../env/test-client.js'

describe('namespaces', () => {
  it('creates, lists, reads, labels and deletes a namespace', async () => {
    await using client = await Client.connect({ address: daemonAddress() })
    const name = uniqueNamespace('ns-crud')
    const created = await client.namespaces.create(name, { labels: { team: 'a', 'containerd.io/defaults/snapshotter': 'native' } })
    expect(created).toEqual({ name, labels: { team: 'a', 'containerd.io/defaults/snapshotter': 'native' } })
    expect((await client.namespaces.list()).map((n) => n.name)).toContain(name)

    // Merge: add one key, remove another with ''.
    await client.namespaces.setLabels(name, { owner: 'me', team: '' })
    expect((await client.namespaces.get(name)).labels).toEqual({ owner: 'me', 'containerd.io/defaults/snapshotter': 'native' })
    // Replace: only the given labels remain.
    await client.namespaces.setLabels(name, { only: 'this' }, { replace: true })
    expect((await client.namespaces.get(name)).labels).toEqual({ only: 'this' })

    await client.namespaces.delete(name)
    await expect(client.namespaces.get(name)).rejects.toBeInstanceOf(NotFoundError)
    expect((await client.namespaces.list()).map((n) => n.name)).not.toContain(name)
  })

  it('reports duplicates, missing and invalid names with typed errors', async () => {
    await using client = await Client.connect({ address: daemonAddress() })
    const name = uniqueNamespace('ns-errors')
    await client.namespaces.create(name)
    try {
      await expect(client.namespaces.create(name)).rejects.toBeInstanceOf(AlreadyExistsError)
    } finally {
      await client.namespaces.delete(name)
    }
    await expect(client.namespaces.delete(name)).rejects.toBeInstanceOf(NotFoundError)
    await expect(client.namespaces.create('Not Valid')).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(client.namespaces.create('x'.repeat(77))).rejects.toThrow(/at most 76/)
    expect((await client.namespaces.list()).map((n) => n.name)).not.toContain('Not Valid')
  })

  it('refuses to delete a namespace that still holds content', async () => {
    await using root = await Client.connect({ address: daemonAddress() })
    const name = uniqueNamespace('ns-nonempty')
    const client = root.withNamespace(name)
    const digest = await client.content.writeBlob(Buffer.from('keep me'), { labels: { 'containerd.io/gc.root': 'now' } })
    await expect(root.namespaces.delete(name)).rejects.toBeInstanceOf(FailedPreconditionError)
    await client.content.delete(digest)
    await root.namespaces.delete(name)
  })

  it('isolates objects between namespaces of one connection', async () => {
    await using root = await Client.connect({ address: daemonAddress() })
    const a = root.withNamespace(uniqueNamespace('ns-a'))
    const b = root.withNamespace(uniqueNamespace('ns-b'))
    const digest = await a.content.writeBlob(Buffer.from('only in a'), { labels: { 'containerd.io/gc.root': 'now' } })
    expect((await a.content.info(digest)).size).toBe(9)
    await expect(b.content.info(digest)).rejects.toBeInstanceOf(NotFoundError)
    await a.content.delete(digest)
    await root.namespaces.delete(a.namespace)
  })
})
