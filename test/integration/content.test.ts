import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CanceledError, FailedPreconditionError, InvalidArgumentError, NotFoundError, type Digest } from '../../src/index.js'
import { connectTestClient, ctr } from '../env/test-client.js'

const client = await connectTestClient('content')
const ROOT = { 'containerd.io/gc.root': 'test' }

function sha256(data: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

describe('content store', () => {
  it('writes, reads, lists, labels and deletes a blob', async () => {
    const data = Buffer.from('hello content store')
    const digest = await client.content.writeBlob(data, { expected: sha256(data), labels: { ...ROOT, kind: 'greeting' } })
    expect(digest).toBe(sha256(data))

    const info = await client.content.info(digest)
    expect(info).toMatchObject({ digest, size: data.byteLength, labels: { ...ROOT, kind: 'greeting' } })
    expect(info.createdAt).toBeInstanceOf(Date)

    expect(await collect(client.content.read(digest))).toEqual(data)
    expect(await collect(client.content.read(digest, { offset: 6 }))).toEqual(data.subarray(6))
    expect(await collect(client.content.read(digest, { offset: 6, size: 7 }))).toEqual(data.subarray(6, 13))
    expect(await client.content.readAll(digest)).toEqual(data)

    const listed: string[] = []
    for await (const item of client.content.list({ filters: ['labels.kind==greeting'] })) listed.push(item.digest)
    expect(listed).toEqual([digest])

    const relabelled = await client.content.setLabels(digest, { kind: '', extra: 'yes' })
    expect(relabelled.labels).toEqual({ ...ROOT, extra: 'yes' })

    // What we wrote is visible to containerd's own tool.
    expect(await ctr(client.namespace, 'content', 'ls', '-q')).toContain(digest)

    await client.content.delete(digest)
    await expect(client.content.info(digest)).rejects.toBeInstanceOf(NotFoundError)
    await expect(client.content.delete(digest)).rejects.toBeInstanceOf(NotFoundError)
  })

  it('is idempotent for a blob that already exists', async () => {
    const data = randomBytes(1000)
    const first = await client.content.writeBlob(data, { expected: sha256(data), labels: ROOT })
    const second = await client.content.writeBlob(data, { expected: sha256(data), labels: { ...ROOT, again: 'yes' } })
    expect(second).toBe(first)
    // The labels asked for are merged into the existing blob's.
    expect((await client.content.info(first)).labels).toEqual({ ...ROOT, again: 'yes' })
    await client.content.delete(first)
  })

  it('streams a blob larger than one message both ways, verified', async () => {
    const data = randomBytes(20 * 1024 * 1024 + 123)
    const digest = await client.content.writeBlob(data, { expected: sha256(data), labels: ROOT })
    const info = await client.content.info(digest)
    expect(info.size).toBe(data.byteLength)
    const read = await collect(client.content.read(digest))
    expect(sha256(read)).toBe(digest)
    // A Readable source works too, and ends up with the same digest.
    const { Readable } = await import('node:stream')
    await client.content.delete(digest)
    const again = await client.content.writeBlob(Readable.from([data.subarray(0, 5_000_000), data.subarray(5_000_000)]), { expected: digest, labels: ROOT })
    expect(again).toBe(digest)
    await client.content.delete(digest)
  })

  it('resumes an interrupted write from where it stopped', async () => {
    const data = randomBytes(3 * 1024 * 1024)
    const expected = sha256(data)
    const ref = `resume-${Date.now()}`
    const first = await client.content.writer(ref, { total: data.byteLength, expected })
    expect(first.offset).toBe(0)
    await first.write(data.subarray(0, 2 * 1024 * 1024))
    // Wait until containerd has stored what we sent, then drop the stream without aborting.
    await waitFor(async () => (await client.content.status(ref)).offset === 2 * 1024 * 1024)
    await first.close()

    const status = await client.content.status(ref)
    expect(status).toMatchObject({ ref, offset: 2 * 1024 * 1024, total: data.byteLength })

    await using second = await client.content.writer(ref, { total: data.byteLength, expected })
    expect(second.offset).toBe(2 * 1024 * 1024)
    await second.write(data.subarray(second.offset))
    const digest = await second.commit({ labels: ROOT })
    expect(digest).toBe(expected)
    expect(await client.content.listStatuses({ filters: [`ref==${ref}`] })).toEqual([])
    await client.content.delete(digest)
  })

  it('gathers small writes into whole messages and copies what it keeps', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 5000)
    const expected = sha256(data)
    await using writer = await client.content.writer(`small-${Date.now()}`, { total: data.byteLength, expected })
    // One reused buffer, overwritten after each write: the writer must not keep a view of it.
    const scratch = Buffer.alloc(10_000)
    for (let at = 0; at < data.byteLength; at += scratch.byteLength) {
      const n = Math.min(scratch.byteLength, data.byteLength - at)
      data.copy(scratch, 0, at, at + n)
      await writer.write(scratch.subarray(0, n))
      scratch.fill(0xff)
    }
    expect(writer.offset).toBe(data.byteLength)
    expect(await writer.commit({ labels: ROOT })).toBe(expected)
    expect(sha256(await client.content.readAll(expected))).toBe(expected)
    await client.content.delete(expected)
  })

  it('rejects a digest mismatch on commit and leaves nothing behind', async () => {
    const data = Buffer.from('these are not the bytes you expect')
    const wrong = sha256(Buffer.from('other bytes'))
    const ref = `mismatch-${Date.now()}`
    await expect(client.content.writeBlob(data, { ref, expected: wrong })).rejects.toBeInstanceOf(FailedPreconditionError)
    await expect(client.content.info(wrong)).rejects.toBeInstanceOf(NotFoundError)
    await expect(client.content.info(sha256(data))).rejects.toBeInstanceOf(NotFoundError)
    expect(await client.content.listStatuses({ filters: [`ref==${ref}`] })).toEqual([])

    // A size mismatch is caught by containerd itself, with the same outcome.
    const sizeRef = `size-${Date.now()}`
    await expect(client.content.writeBlob(data, { ref: sizeRef, size: data.byteLength + 1 })).rejects.toThrow()
    expect(await client.content.listStatuses({ filters: [`ref==${sizeRef}`] })).toEqual([])
  })

  it('aborting a write cancels it and removes the ingest', async () => {
    const controller = new AbortController()
    const ref = `aborted-${Date.now()}`
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield randomBytes(1024 * 1024)
      controller.abort(new Error('user gave up'))
      yield randomBytes(1024 * 1024)
    }
    const err = await client.content.writeBlob(slow(), { ref, signal: controller.signal }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CanceledError)
    await waitFor(async () => (await client.content.listStatuses({ filters: [`ref==${ref}`] })).length === 0)
  })

  it('validates digests and ranges before calling', async () => {
    expect(() => client.content.read('sha256:xyz')).toThrow(InvalidArgumentError)
    expect(() => client.content.read(sha256(Buffer.from('a')), { offset: -1 })).toThrow(InvalidArgumentError)
    await expect(client.content.info('md5:abc')).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(client.content.readAll(sha256(Buffer.from('missing')))).rejects.toBeInstanceOf(NotFoundError)
  })
})

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (let i = 0; Date.now() < deadline; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error('condition not met in time')
}
