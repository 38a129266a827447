import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { timestampFromMs } from '@bufbuild/protobuf/wkt'
import { describe, expect, it } from 'vitest'
import { BuildProgressTracker, createPlainRenderer } from '../../../src/build/progress/index.js'
import { formatBuildBytes, formatFixed } from '../../../src/build/progress/plain-renderer.js'
import { StatusResponseSchema } from '../../../src/gen/moby/buildkit/api/services/control/control_pb.js'

type StatusInit = MessageInitShape<typeof StatusResponseSchema>

const T0 = 1_700_000_000_000
const at = (ms: number) => timestampFromMs(T0 + ms)
const bytes = (text: string) => new TextEncoder().encode(text)

/** Feeds the messages through a tracker into a renderer and returns what it wrote. */
function render(messages: StatusInit[]): string {
  let out = ''
  const tracker = new BuildProgressTracker()
  const renderer = createPlainRenderer((text) => {
    out += text
  })
  for (const message of messages) for (const event of tracker.update(create(StatusResponseSchema, message))) renderer(event)
  return out
}

const DEF = 'sha256:def'
const META = 'sha256:meta'
const FROM = 'sha256:from'
const WORKDIR = 'sha256:workdir'
const RUN_OK = 'sha256:runok'
const RUN_BAD = 'sha256:runbad'
const LAYER = 'sha256:4abcd'
const FROM_NAME = '[1/4] FROM docker.io/library/alpine:latest@sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b'

describe('createPlainRenderer', () => {
  it('prints a small build as buildctl --progress=plain does: a cached step, a step with output, a failed step', () => {
    const layer = (current: number, ms: number, done = false) => ({ ID: LAYER, vertex: FROM, current: BigInt(current), total: 1048576n, started: at(1260), timestamp: at(ms), ...(done ? { completed: at(ms) } : {}) })
    const out = render([
      { vertexes: [{ digest: DEF, name: '[internal] load build definition from Dockerfile', started: at(0) }] },
      {
        statuses: [{ ID: 'transferring dockerfile:', vertex: DEF, current: 72n, started: at(10), timestamp: at(20), completed: at(20) }],
        warnings: [{ vertex: DEF, level: 1n, short: bytes("FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)") }],
        vertexes: [{ digest: DEF, name: '[internal] load build definition from Dockerfile', started: at(0), completed: at(30) }],
      },
      {
        vertexes: [
          { digest: META, name: '[internal] load metadata for docker.io/library/alpine:latest', started: at(40) },
          // Announced before it starts: numbered now, printed once it starts.
          { digest: FROM, name: FROM_NAME },
        ],
      },
      { vertexes: [{ digest: META, name: '[internal] load metadata for docker.io/library/alpine:latest', started: at(40), completed: at(1240) }] },
      { vertexes: [{ digest: FROM, name: FROM_NAME, started: at(1250) }], statuses: [layer(524288, 1300)] },
      // 2.5% more after 50 ms: below buildctl's throttle, not printed.
      { statuses: [layer(550000, 1350)] },
      { statuses: [layer(1048576, 1460, true)] },
      { vertexes: [{ digest: FROM, name: FROM_NAME, started: at(1250), completed: at(1510) }] },
      {
        vertexes: [
          { digest: WORKDIR, name: '[2/4] WORKDIR /app', inputs: [FROM], cached: true, started: at(1520), completed: at(1520) },
          { digest: RUN_OK, name: '[3/4] RUN echo hello; echo world', inputs: [WORKDIR], started: at(1600) },
        ],
      },
      { logs: [{ vertex: RUN_OK, stream: 1n, msg: bytes('hello\nwo'), timestamp: at(1812) }] },
      {
        logs: [{ vertex: RUN_OK, stream: 1n, msg: bytes('rld\n'), timestamp: at(1900) }],
        vertexes: [{ digest: RUN_OK, name: '[3/4] RUN echo hello; echo world', inputs: [WORKDIR], started: at(1600), completed: at(1930) }],
      },
      {
        vertexes: [{ digest: RUN_BAD, name: '[4/4] RUN echo about to fail && false', inputs: [RUN_OK], started: at(2000), completed: at(2150), error: 'process "/bin/sh -c echo about to fail && false" did not complete successfully: exit code: 1' }],
        logs: [{ vertex: RUN_BAD, stream: 1n, msg: bytes('about to fail\n'), timestamp: at(2105) }],
      },
    ])
    expect(out).toBe(
      [
        '#1 [internal] load build definition from Dockerfile',
        '#1 transferring dockerfile: 72B done',
        "#1 WARN: FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)",
        '#1 DONE 0.0s',
        '',
        '#2 [internal] load metadata for docker.io/library/alpine:latest',
        '#2 DONE 1.2s',
        '',
        `#3 ${FROM_NAME}`,
        '#3 sha256:4abcd 524.29kB / 1.05MB 0.0s',
        '#3 sha256:4abcd 1.05MB / 1.05MB 0.2s done',
        '#3 DONE 0.3s',
        '',
        '#4 [2/4] WORKDIR /app',
        '#4 CACHED',
        '',
        '#5 [3/4] RUN echo hello; echo world',
        '#5 0.212 hello',
        '#5 0.212 world',
        '#5 DONE 0.3s',
        '',
        '#6 [4/4] RUN echo about to fail && false',
        '#6 0.105 about to fail',
        '#6 ERROR: process "/bin/sh -c echo about to fail && false" did not complete successfully: exit code: 1',
        '',
      ].join('\n'),
    )
  })

  it('switches blocks between steps that print in turn, closing an unfinished one with "..."', () => {
    const out = render([
      { vertexes: [{ digest: 'a', name: 'RUN a', started: at(0) }] },
      { logs: [{ vertex: 'a', stream: 1n, msg: bytes('x\npart'), timestamp: at(100) }] },
      { vertexes: [{ digest: 'b', name: 'RUN b', started: at(150) }], logs: [{ vertex: 'b', stream: 2n, msg: bytes('y\n'), timestamp: at(250) }] },
      { logs: [{ vertex: 'a', stream: 1n, msg: bytes('ial\nz\n'), timestamp: at(1234) }] },
      { vertexes: [{ digest: 'b', name: 'RUN b', started: at(150), completed: at(300), error: 'failed to read: context canceled' }] },
      { vertexes: [{ digest: 'a', name: 'RUN a', started: at(0), completed: at(12_500) }] },
    ])
    expect(out).toBe(
      [
        '#1 RUN a',
        '#1 0.100 x',
        '#1 0.100 part',
        '#1 ...',
        '',
        '#2 RUN b',
        '#2 0.100 y',
        '#2 ...',
        '',
        '#1 RUN a',
        // The unfinished line resumes with the time it began at.
        '#1 0.100 ial',
        '#1 1.234 z',
        '#1 ...',
        '',
        '#2 RUN b',
        '#2 CANCELED',
        '',
        '#1 RUN a',
        '#1 DONE 12.5s',
        '',
      ].join('\n'),
    )
  })

  it('continues a line split inside a UTF-8 character and prints logs of long steps with fewer decimals', () => {
    const euro = bytes('€\n')
    const out = render([
      { vertexes: [{ digest: 'a', name: 'RUN a', started: at(0) }] },
      { logs: [{ vertex: 'a', stream: 1n, msg: euro.subarray(0, 1), timestamp: at(42_000) }] },
      { logs: [{ vertex: 'a', stream: 1n, msg: euro.subarray(1), timestamp: at(42_001) }] },
      { logs: [{ vertex: 'a', stream: 1n, msg: bytes('late\n'), timestamp: at(123_456) }] },
    ])
    expect(out).toBe('#1 RUN a\n#1 42.00 €\n#1 123.5 late\n')
  })

  it('prints nothing for a step that has not started', () => {
    expect(render([{ vertexes: [{ digest: 'a', name: 'RUN a' }] }])).toBe('')
  })
})

describe('plain renderer number formats', () => {
  it("rounds like Go's %f: exact ties to even, everything else to nearest", () => {
    expect(formatFixed(0.25, 1)).toBe('0.2')
    expect(formatFixed(0.75, 1)).toBe('0.8')
    expect(formatFixed(0.35, 1)).toBe('0.3') // 0.35 is slightly below in binary
    expect(formatFixed(0.0625, 3)).toBe('0.062')
    expect(formatFixed(1.26, 1)).toBe('1.3')
    expect(formatFixed(12.5, 0)).toBe('12')
    expect(formatFixed(-0.25, 1)).toBe('-0.2')
  })

  it('prints sizes with decimal units, as tonistiigi/units does', () => {
    expect(formatBuildBytes(0)).toBe('0B')
    expect(formatBuildBytes(72)).toBe('72B')
    expect(formatBuildBytes(999)).toBe('999B')
    expect(formatBuildBytes(1000)).toBe('1.00kB')
    expect(formatBuildBytes(1125)).toBe('1.12kB')
    expect(formatBuildBytes(1048576)).toBe('1.05MB')
    expect(formatBuildBytes(3_400_000_000)).toBe('3.40GB')
  })
})
