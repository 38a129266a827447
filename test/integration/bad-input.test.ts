import { describe, expect, it } from 'vitest'
import { CanceledError, Client, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError } from '../../src/index.js'
import { daemonAddress, uniqueNamespace } from '../env/test-client.js'

// Every failure here must leave the daemon as it was: no namespace, lease, ingest, blob or snapshot.
describe('bad input changes nothing', () => {
  async function namespaceNames(client: Client): Promise<string[]> {
    return (await client.namespaces.list()).map((n) => n.name)
  }

  it('a rejected blob in a new namespace leaves neither ingest nor namespace', async () => {
    await using root = await Client.connect({ address: daemonAddress() })
    const client = root.withNamespace(uniqueNamespace('bad-digest'))
    const wrong = `sha256:${'0'.repeat(64)}` as const
    await expect(client.content.writeBlob(Buffer.from('x'), { expected: wrong })).rejects.toBeInstanceOf(FailedPreconditionError)
    expect(await namespaceNames(root)).not.toContain(client.namespace)
  })

  it('a failed withLease in a new namespace leaves neither lease nor namespace', async () => {
    await using root = await Client.connect({ address: daemonAddress() })
    const client = root.withNamespace(uniqueNamespace('bad-lease'))
    await expect(client.withLease(async () => { throw new Error('step failed') })).rejects.toThrow('step failed')
    expect(await namespaceNames(root)).not.toContain(client.namespace)
  })

  it('a snapshot on a missing parent in a new namespace leaves nothing', async () => {
    await using root = await Client.connect({ address: daemonAddress() })
    const client = root.withNamespace(uniqueNamespace('bad-parent'))
    await expect(client.snapshots().prepare('child', 'no-such-parent')).rejects.toBeInstanceOf(NotFoundError)
    expect(await namespaceNames(root)).not.toContain(client.namespace)
  })

  it('keeps a namespace that existed before the failure', async () => {
    await using root = await Client.connect({ address: daemonAddress() })
    const name = uniqueNamespace('bad-existing')
    await root.namespaces.create(name)
    const client = root.withNamespace(name)
    await expect(client.content.writeBlob(Buffer.from('x'), { expected: `sha256:${'1'.repeat(64)}` })).rejects.toBeInstanceOf(FailedPreconditionError)
    expect(await namespaceNames(root)).toContain(name)
    expect(await client.content.listStatuses()).toEqual([])
    await root.namespaces.delete(name)
  })

  it('an aborted write leaves no ingest and no namespace', async () => {
    await using root = await Client.connect({ address: daemonAddress() })
    const client = root.withNamespace(uniqueNamespace('bad-abort'))
    const controller = new AbortController()
    async function* data(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(512 * 1024, 1)
      controller.abort()
      yield Buffer.alloc(512 * 1024, 2)
    }
    await expect(client.content.writeBlob(data(), { signal: controller.signal })).rejects.toBeInstanceOf(CanceledError)
    expect(await namespaceNames(root)).not.toContain(client.namespace)
  })

  it('invalid identifiers and digests fail before any call', async () => {
    await using root = await Client.connect({ address: daemonAddress() })
    const before = await namespaceNames(root)
    expect(() => root.withNamespace('no/slashes')).toThrow(InvalidArgumentError)
    await expect(root.leases.create({ id: '../escape' })).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(root.content.info('sha256:short')).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(root.namespaces.create('-leading-dash')).rejects.toBeInstanceOf(InvalidArgumentError)
    expect(await namespaceNames(root)).toEqual(before)
  })

  it('a daemon that is down gives UnavailableError naming the socket', async () => {
    const err = await Client.connect({ address: '/run/no-such-dir/containerd.sock', timeoutMs: 1000 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnavailableError)
    expect((err as Error).message).toContain('/run/no-such-dir/containerd.sock')
  })
})
