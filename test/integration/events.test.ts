import { describe, expect, it } from 'vitest'
import type { ContainerdEvent } from '../../src/index.js'
import { connectTestClient } from '../env/test-client.js'

const client = await connectTestClient('events')

/** Collects events until `stop` returns true or the time limit passes; always ends the subscription. */
async function collectUntil(
  filters: string[],
  act: () => Promise<void>,
  stop: (events: ContainerdEvent[]) => boolean,
  timeoutMs = 5000,
  allNamespaces = false,
): Promise<ContainerdEvent[]> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new Error('time limit')), timeoutMs)
  const events: ContainerdEvent[] = []
  const iterator = client.events({ filters, signal: controller.signal, allNamespaces })[Symbol.asyncIterator]()
  // The subscription is live once the first next() call is on the wire; give it a moment.
  const first = iterator.next()
  await new Promise((r) => setTimeout(r, 100))
  await act()
  try {
    let result = await first
    while (!result.done) {
      events.push(result.value)
      if (stop(events)) break
      result = await iterator.next()
    }
  } finally {
    clearTimeout(timer)
    await iterator.return?.()
  }
  return events
}

describe('events', () => {
  it('yields typed, decoded payloads for content and snapshot events', async () => {
    const events = await collectUntil(
      [`namespace==${client.namespace}`],
      async () => {
        await client.snapshots().prepare('ev-snap', '', { labels: { 'containerd.io/gc.root': 'x' } })
        await client.snapshots().remove('ev-snap')
      },
      (evs) => evs.some((e) => e.topic === '/snapshot/remove'),
    )
    const prepare = events.find((e) => e.topic === '/snapshot/prepare')
    expect(prepare?.type).toBe('containerd.events.SnapshotPrepare')
    if (prepare?.type === 'containerd.events.SnapshotPrepare') {
      expect(prepare.payload.key).toBe('ev-snap')
    }
    expect(prepare?.namespace).toBe(client.namespace)
    expect(prepare?.timestamp).toBeInstanceOf(Date)
    const remove = events.find((e) => e.type === 'containerd.events.SnapshotRemove')
    expect(remove?.payload).toMatchObject({ key: 'ev-snap' })
  })

  it('decodes image and container events (ImageCreate, ContainerCreate, ContainerDelete)', async () => {
    const name = `docker.io/library/events-test:${Date.now()}`
    const id = `events-${Date.now()}`
    const target = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 10n }
    const spec = { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: new TextEncoder().encode('{"ociVersion":"1.0.2"}') }
    const events = await collectUntil(
      [`namespace==${client.namespace}`, 'topic~="/images/|/containers/"'],
      async () => {
        await client.services.images.create({ image: { name, target, labels: { a: '1' } } })
        await client.services.containers.create({ container: { id, image: name, runtime: { name: 'io.containerd.runc.v2' }, spec } })
        await client.services.containers.delete({ id })
        await client.services.images.delete({ name, sync: false })
      },
      (evs) => evs.some((e) => e.topic === '/images/delete'),
    )
    const image = events.find((e) => e.type === 'containerd.services.images.v1.ImageCreate')
    if (image?.type !== 'containerd.services.images.v1.ImageCreate') return expect.fail('no ImageCreate event')
    expect(image.payload.name).toBe(name)
    expect(image.payload.labels).toEqual({ a: '1' })
    const created = events.find((e) => e.type === 'containerd.events.ContainerCreate')
    if (created?.type !== 'containerd.events.ContainerCreate') return expect.fail('no ContainerCreate event')
    expect(created.payload).toMatchObject({ id, image: name })
    expect(created.payload.runtime?.name).toBe('io.containerd.runc.v2')
    expect(events.map((e) => e.topic)).toEqual(expect.arrayContaining(['/images/create', '/containers/create', '/containers/delete', '/images/delete']))
  })

  it('applies topic filters and reports namespace events', async () => {
    const { uniqueNamespace } = await import('../env/test-client.js')
    const name = uniqueNamespace('ev-ns')
    const events = await collectUntil(
      ['topic=="/namespaces/create"', 'topic=="/namespaces/delete"'],
      async () => {
        await client.namespaces.create(name, { labels: { a: 'b' } })
        await client.namespaces.delete(name)
      },
      (evs) => evs.some((e) => e.topic === '/namespaces/delete' && (e.payload as { name?: string } | undefined)?.name === name),
      5000,
      // Namespace events are about namespaces, not in one: containerd 1.6 publishes the delete outside the
      // caller's namespace, so a namespace-scoped subscription does not see it there.
      true,
    )
    const mine = events.filter((e) => (e.payload as { name?: string } | undefined)?.name === name)
    expect(mine.map((e) => e.topic)).toEqual(['/namespaces/create', '/namespaces/delete'])
    const created = mine[0]
    if (created?.type === 'containerd.events.NamespaceCreate') expect(created.payload.labels).toEqual({ a: 'b' })
    else expect.fail(`unexpected event type ${created?.type}`)
    expect(events.every((e) => e.topic.startsWith('/namespaces/'))).toBe(true)
  })

  it('ends cleanly when the signal aborts', async () => {
    const controller = new AbortController()
    const seen: ContainerdEvent[] = []
    const loop = (async () => {
      for await (const ev of client.events({ signal: controller.signal, filters: ['topic=="/never"'] })) seen.push(ev)
      return 'ended'
    })()
    await new Promise((r) => setTimeout(r, 100))
    controller.abort()
    expect(await loop).toBe('ended')
    expect(seen).toEqual([])
  })
})
