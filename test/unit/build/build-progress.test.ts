import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { timestampFromMs } from '@bufbuild/protobuf/wkt'
import { describe, expect, it } from 'vitest'
import { toProgressEvents, type BuildProgressEvent } from '../../../src/build/progress/index.js'
import { StatusResponseSchema } from '../../../src/gen/moby/buildkit/api/services/control/control_pb.js'

const T0 = 1_700_000_000_000
const at = (ms: number) => timestampFromMs(T0 + ms)
const date = (ms: number) => new Date(T0 + ms)
const bytes = (text: string) => new TextEncoder().encode(text)
const status = (init: MessageInitShape<typeof StatusResponseSchema>) => create(StatusResponseSchema, init)

/** The events as plain data, to compare whole. */
const summary = (events: BuildProgressEvent[]) =>
  events.map((e) => (e.type === 'vertex' ? `vertex ${e.vertex.digest} ${e.vertex.completed === undefined ? 'open' : 'completed'}` : e.type === 'log' ? `log ${e.log.vertex}` : `warning ${e.warning.vertex}`))

describe('toProgressEvents', () => {
  it('converts vertices, counters, logs and warnings to domain shapes', () => {
    const events = toProgressEvents(
      status({
        vertexes: [{ digest: 'sha256:a', name: '[2/3] RUN make', inputs: ['sha256:base'], started: at(0), completed: at(1500), error: 'exit code: 2' }],
        statuses: [{ ID: 'extracting sha256:l1', vertex: 'sha256:a', current: 10n, total: 20n, timestamp: at(5), started: at(1) }],
        logs: [{ vertex: 'sha256:a', stream: 2n, msg: bytes('oops\n'), timestamp: at(1200) }],
        warnings: [{ vertex: 'sha256:a', level: 1n, short: bytes('FromAsCasing: casing'), detail: [bytes('line one'), bytes('line two')], url: 'https://docs.docker.com/go/dockerfile/rule/from-as-casing/' }],
      }),
    )
    expect(events).toStrictEqual([
      {
        type: 'vertex',
        vertex: {
          digest: 'sha256:a',
          name: '[2/3] RUN make',
          inputs: ['sha256:base'],
          cached: false,
          started: date(0),
          statuses: [{ id: 'extracting sha256:l1', name: '', current: 10, total: 20, timestamp: date(5), started: date(1) }],
        },
      },
      {
        type: 'warning',
        warning: { vertex: 'sha256:a', level: 1, short: 'FromAsCasing: casing', detail: ['line one', 'line two'], url: 'https://docs.docker.com/go/dockerfile/rule/from-as-casing/' },
      },
      { type: 'log', log: { vertex: 'sha256:a', stream: 'stderr', data: bytes('oops\n'), timestamp: date(1200) } },
      {
        type: 'vertex',
        vertex: {
          digest: 'sha256:a',
          name: '[2/3] RUN make',
          inputs: ['sha256:base'],
          cached: false,
          started: date(0),
          completed: date(1500),
          error: 'exit code: 2',
          statuses: [{ id: 'extracting sha256:l1', name: '', current: 10, total: 20, timestamp: date(5), started: date(1) }],
        },
      },
    ])
  })

  it('leaves out what the daemon did not set, and maps stream 1 to stdout', () => {
    const events = toProgressEvents(
      status({
        vertexes: [{ digest: 'sha256:a', name: 'step' }],
        logs: [{ vertex: 'sha256:a', stream: 1n, msg: bytes('x') }],
        warnings: [{ vertex: 'sha256:a', short: bytes('w') }],
      }),
    )
    expect(events).toStrictEqual([
      { type: 'vertex', vertex: { digest: 'sha256:a', name: 'step', inputs: [], cached: false, statuses: [] } },
      { type: 'warning', warning: { vertex: 'sha256:a', level: 0, short: 'w', detail: [] } },
      { type: 'log', log: { vertex: 'sha256:a', stream: 'stdout', data: bytes('x') } },
    ])
  })

  it('merges a vertex repeated within the message into one event', () => {
    const events = toProgressEvents(
      status({
        vertexes: [
          { digest: 'sha256:a', name: 'step', started: at(0) },
          { digest: 'sha256:b', name: 'other' },
          { digest: 'sha256:a', name: 'step', started: at(0), completed: at(100), cached: true },
        ],
      }),
    )
    expect(summary(events)).toEqual(['vertex sha256:a completed', 'vertex sha256:b open'])
    expect(events[0]).toMatchObject({ vertex: { cached: true, completed: date(100) } })
  })

  it('delivers a completion after the output the step printed in the same message', () => {
    const events = toProgressEvents(
      status({
        vertexes: [{ digest: 'sha256:a', name: 'RUN echo hi', started: at(0), completed: at(300) }],
        logs: [{ vertex: 'sha256:a', stream: 1n, msg: bytes('hi\n'), timestamp: at(200) }],
      }),
    )
    expect(summary(events)).toEqual(['vertex sha256:a open', 'log sha256:a', 'vertex sha256:a completed'])
  })

  it('describes a step known only from its counter by its digest (the message says no more)', () => {
    const events = toProgressEvents(status({ statuses: [{ ID: 'transferring context:', vertex: 'sha256:ctx', current: 5n, started: at(0) }] }))
    expect(events).toStrictEqual([
      {
        type: 'vertex',
        vertex: { digest: 'sha256:ctx', name: '', inputs: [], cached: false, statuses: [{ id: 'transferring context:', name: '', current: 5, total: 0, started: date(0) }] },
      },
    ])
  })

  it('returns plain objects, not generated messages', () => {
    const [event] = toProgressEvents(status({ vertexes: [{ digest: 'sha256:a', name: 'step', started: at(0) }] }))
    expect(event?.type === 'vertex' && Object.keys(event.vertex)).toEqual(['digest', 'name', 'inputs', 'cached', 'started', 'statuses'])
    expect(Object.getPrototypeOf(event)).toBe(Object.prototype)
  })

  it('returns nothing for an empty message', () => {
    expect(toProgressEvents(status({}))).toEqual([])
  })
})
