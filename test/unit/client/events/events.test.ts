import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { AnySchema, TimestampSchema, anyPack } from '@bufbuild/protobuf/wkt'
import { describe, it, expect } from 'vitest'
import { decodeEvent } from '../../../../src/client/events/events.js'
import type { ContainerdEvent } from '../../../../src/client/events/events.js'
import { EVENT_SCHEMAS } from '../../../../src/client/events/event-payloads.js'
import { ContainerCreateSchema } from '../../../../src/gen/containerd/events/container_pb.js'
import { TaskExitSchema, TaskOOMSchema } from '../../../../src/gen/containerd/events/task_pb.js'
import { EnvelopeSchema } from '../../../../src/gen/containerd/types/event_pb.js'

function taskExitBytes(): Uint8Array {
  return toBinary(
    TaskExitSchema,
    create(TaskExitSchema, {
      containerId: 'c1',
      id: 'c1',
      pid: 4242,
      exitStatus: 137,
      exitedAt: create(TimestampSchema, { seconds: 1_700_000_000n, nanos: 5_000_000 }),
    }),
  )
}

/** Builds an Envelope as it would arrive from the Events service (round-tripped through the wire format). */
function envelope(typeUrl: string, value: Uint8Array, extra: { namespace?: string; topic?: string; withTimestamp?: boolean } = {}) {
  const env = create(EnvelopeSchema, {
    namespace: extra.namespace ?? 'default',
    topic: extra.topic ?? '/tasks/exit',
    event: create(AnySchema, { typeUrl, value }),
  })
  if (extra.withTimestamp !== false) env.timestamp = create(TimestampSchema, { seconds: 1_700_000_001n, nanos: 250_000_000 })
  return fromBinary(EnvelopeSchema, toBinary(EnvelopeSchema, env))
}

describe('decodeEvent', () => {
  it('decodes a TaskExit with a bare type name (as containerd sends it)', () => {
    const value = taskExitBytes()
    const ev = decodeEvent(envelope('containerd.events.TaskExit', value))
    expect(ev.type).toBe('containerd.events.TaskExit')
    expect(ev.namespace).toBe('default')
    expect(ev.topic).toBe('/tasks/exit')
    expect(ev.timestamp).toEqual(new Date(1_700_000_001_250))
    expect(ev.raw.typeUrl).toBe('containerd.events.TaskExit')
    expect(ev.raw.value).toEqual(value)
    expect(ev.payload).toBeDefined()
    expect(ev.payload).toMatchObject({
      $typeName: 'containerd.events.TaskExit',
      containerId: 'c1',
      id: 'c1',
      pid: 4242,
      exitStatus: 137,
    })
  })

  it('narrows the payload type on `type`', () => {
    const ev: ContainerdEvent = decodeEvent(envelope('containerd.events.TaskExit', taskExitBytes()))
    if (ev.type === 'containerd.events.TaskExit') {
      // Compile-time check: these fields exist only on TaskExit.
      const exitStatus: number = ev.payload.exitStatus
      const pid: number = ev.payload.pid
      expect(exitStatus).toBe(137)
      expect(pid).toBe(4242)
      expect(ev.payload.exitedAt?.seconds).toBe(1_700_000_000n)
      expect(ev.payload.exitedAt?.nanos).toBe(5_000_000)
    } else {
      expect.unreachable(`expected a TaskExit, got ${ev.type}`)
    }
  })

  it('decodes with a type.googleapis.com/ prefix, keeping the full URL in raw', () => {
    const url = 'type.googleapis.com/containerd.events.TaskExit'
    const ev = decodeEvent(envelope(url, taskExitBytes()))
    expect(ev.type).toBe('containerd.events.TaskExit')
    expect(ev.raw.typeUrl).toBe(url)
    expect(ev.payload).toMatchObject({ $typeName: 'containerd.events.TaskExit', exitStatus: 137 })
  })

  it('decodes an Any packed by anyPack (prefixed URL)', () => {
    const msg = create(TaskOOMSchema, { containerId: 'oom-1' })
    const any = anyPack(TaskOOMSchema, msg)
    expect(any.typeUrl.startsWith('type.googleapis.com/')).toBe(true)
    const ev = decodeEvent({ namespace: 'ns', topic: '/tasks/oom', event: any })
    expect(ev.type).toBe('containerd.events.TaskOOM')
    expect(ev.payload).toMatchObject({ $typeName: 'containerd.events.TaskOOM', containerId: 'oom-1' })
    expect(ev.timestamp).toBeUndefined()
  })

  it('uses the segment after the last slash of any URL prefix', () => {
    const ev = decodeEvent(envelope('example.com/a/b/containerd.events.TaskExit', taskExitBytes()))
    expect(ev.type).toBe('containerd.events.TaskExit')
    expect(ev.payload).toBeDefined()
  })

  it('decodes other known types (ContainerCreate)', () => {
    const value = toBinary(ContainerCreateSchema, create(ContainerCreateSchema, { id: 'ctr', image: 'docker.io/library/busybox:latest' }))
    const ev = decodeEvent(envelope('containerd.events.ContainerCreate', value, { topic: '/containers/create', namespace: 'k8s.io' }))
    expect(ev.type).toBe('containerd.events.ContainerCreate')
    expect(ev.namespace).toBe('k8s.io')
    expect(ev.payload).toMatchObject({ id: 'ctr', image: 'docker.io/library/busybox:latest' })
  })

  it('every registered schema decodes to its own type name', () => {
    for (const schema of EVENT_SCHEMAS) {
      const ev = decodeEvent({ namespace: 'n', topic: 't', event: create(AnySchema, { typeUrl: schema.typeName, value: new Uint8Array() }) })
      expect(ev.type).toBe(schema.typeName)
      expect(ev.payload).toMatchObject({ $typeName: schema.typeName })
    }
  })

  it('decodes an empty payload of a known type to default values', () => {
    const ev = decodeEvent(envelope('containerd.events.TaskExit', new Uint8Array()))
    expect(ev.payload).toMatchObject({ containerId: '', id: '', pid: 0, exitStatus: 0 })
  })

  it('returns payload undefined for an unknown type and keeps the raw bytes', () => {
    const value = new Uint8Array([0x0a, 0x03, 0x61, 0x62, 0x63])
    const ev = decodeEvent(envelope('example.com/custom.v1.SomethingHappened', value, { topic: '/custom' }))
    expect(ev.type).toBe('unknown')
    expect(ev.payload).toBeUndefined()
    expect(ev.raw).toEqual({ typeUrl: 'example.com/custom.v1.SomethingHappened', value })
    expect(ev.topic).toBe('/custom')
  })

  it('does not match type names case-insensitively or partially', () => {
    for (const url of ['containerd.events.taskexit', 'TaskExit', 'containerd.events.TaskExit2', 'containerd.events.TaskExit/']) {
      const ev = decodeEvent(envelope(url, taskExitBytes()))
      expect(ev.type, url).toBe('unknown')
      expect(ev.payload, url).toBeUndefined()
      expect(ev.raw.typeUrl).toBe(url)
    }
  })

  it('narrowing on type === "unknown" leaves payload undefined and the name in raw.typeUrl', () => {
    const ev: ContainerdEvent = decodeEvent(envelope('example.com/x.y.Z', new Uint8Array([1])))
    if (ev.type === 'unknown') {
      const payload: undefined = ev.payload
      expect(payload).toBeUndefined()
      expect(ev.raw.typeUrl.endsWith('/x.y.Z')).toBe(true)
    } else {
      expect.unreachable(`expected unknown, got ${ev.type}`)
    }
  })

  it('does not decode messages outside the event set (e.g. google.protobuf.Timestamp)', () => {
    const ev = decodeEvent(envelope('google.protobuf.Timestamp', new Uint8Array()))
    expect(ev.type).toBe('unknown')
    expect(ev.raw.typeUrl).toBe('google.protobuf.Timestamp')
    expect(ev.payload).toBeUndefined()
  })

  it('handles an envelope without an event', () => {
    const ev = decodeEvent({ namespace: 'default', topic: '/x' })
    expect(ev.type).toBe('unknown')
    expect(ev.payload).toBeUndefined()
    expect(ev.raw.typeUrl).toBe('')
    expect(ev.raw.value).toBeInstanceOf(Uint8Array)
    expect(ev.raw.value.byteLength).toBe(0)
    expect(ev.timestamp).toBeUndefined()
  })

  it('leaves timestamp undefined when the envelope has none', () => {
    const ev = decodeEvent(envelope('containerd.events.TaskExit', taskExitBytes(), { withTimestamp: false }))
    expect(ev.timestamp).toBeUndefined()
  })

  it('accepts a plain timestamp object', () => {
    const ev = decodeEvent({ namespace: 'n', topic: 't', timestamp: { seconds: 2n, nanos: 3_000_000 } })
    expect(ev.timestamp?.getTime()).toBe(2003)
  })

  it('throws on a malformed payload of a known type', () => {
    // A field header promising 10 bytes of length-delimited data with only 1 present.
    expect(() => decodeEvent(envelope('containerd.events.TaskExit', new Uint8Array([0x0a, 0x0a, 0x61])))).toThrow()
  })
})
