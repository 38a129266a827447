import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { timestampFromMs } from '@bufbuild/protobuf/wkt'
import { describe, expect, it } from 'vitest'
import { BuildError, BuildProgressTracker, buildErrorFrom, type BuildProgressEvent } from '../../../src/build/progress/index.js'
import { StatusResponseSchema } from '../../../src/gen/moby/buildkit/api/services/control/control_pb.js'
import { CanceledError, ContainerdError, GrpcCode, InvalidArgumentError, UnknownError, errorFromStatus } from '../../../src/grpc/errors.js'

const T0 = 1_700_000_000_000
const at = (ms: number) => timestampFromMs(T0 + ms)
const date = (ms: number) => new Date(T0 + ms)
const bytes = (text: string) => new TextEncoder().encode(text)
const status = (init: MessageInitShape<typeof StatusResponseSchema>) => create(StatusResponseSchema, init)
const log = (vertex: string, text: string, stream: 1n | 2n = 1n) => status({ logs: [{ vertex, stream, msg: bytes(text), timestamp: at(10) }] })
const vertexEvents = (events: BuildProgressEvent[]) => events.flatMap((e) => (e.type === 'vertex' ? [e.vertex] : []))

/** A tracker that knows one started step `sha256:a`. */
function trackerWithStep(options?: ConstructorParameters<typeof BuildProgressTracker>[0]): BuildProgressTracker {
  const tracker = new BuildProgressTracker(options)
  tracker.update(status({ vertexes: [{ digest: 'sha256:a', name: 'RUN it', started: at(0) }] }))
  return tracker
}

describe('BuildProgressTracker: vertices', () => {
  it('merges repeated vertices by digest, the later record replacing the fields', () => {
    const tracker = new BuildProgressTracker()
    const first = tracker.update(status({ vertexes: [{ digest: 'sha256:a', name: '[1/2] FROM alpine' }, { digest: 'sha256:b', name: '[2/2] RUN x', inputs: ['sha256:a'] }] }))
    expect(vertexEvents(first).map((v) => v.digest)).toEqual(['sha256:a', 'sha256:b'])

    const started = tracker.update(status({ vertexes: [{ digest: 'sha256:b', name: '[2/2] RUN x', inputs: ['sha256:a'], started: at(100) }] }))
    expect(vertexEvents(started)).toEqual([{ digest: 'sha256:b', name: '[2/2] RUN x', inputs: ['sha256:a'], cached: false, started: date(100), statuses: [] }])

    const done = tracker.update(status({ vertexes: [{ digest: 'sha256:a', name: '[1/2] FROM alpine', started: at(0), completed: at(50), cached: true }] }))
    expect(vertexEvents(done)).toMatchObject([{ digest: 'sha256:a', cached: true, completed: date(50) }])

    expect(tracker.vertices().map((v) => [v.digest, v.started !== undefined, v.completed !== undefined])).toEqual([
      ['sha256:a', true, true],
      ['sha256:b', true, false],
    ])
    expect(tracker.vertex('sha256:b')?.inputs).toEqual(['sha256:a'])
    expect(tracker.vertex('sha256:nope')).toBeUndefined()
  })

  it('sends no event for a record that changes nothing, and a late unstarted record does not undo a start', () => {
    const tracker = trackerWithStep()
    expect(tracker.update(status({ vertexes: [{ digest: 'sha256:a', name: 'RUN it', started: at(0) }] }))).toEqual([])
    expect(tracker.update(status({ vertexes: [{ digest: 'sha256:a', name: 'RUN it' }] }))).toEqual([])
    expect(tracker.vertex('sha256:a')?.started).toEqual(date(0))
  })

  it('merges counters into their vertex by id, in the order they first appeared', () => {
    const tracker = trackerWithStep()
    const s = (ID: string, current: bigint, completed?: number) => ({ ID, vertex: 'sha256:a', current, total: 100n, started: at(1), timestamp: at(Number(current)), ...(completed === undefined ? {} : { completed: at(completed) }) })
    tracker.update(status({ statuses: [s('layer-1', 10n), s('layer-2', 5n)] }))
    const events = tracker.update(status({ statuses: [s('layer-1', 100n, 100)] }))
    expect(vertexEvents(events)).toHaveLength(1)
    expect(tracker.vertex('sha256:a')?.statuses).toEqual([
      { id: 'layer-1', name: '', current: 100, total: 100, started: date(1), timestamp: date(100), completed: date(100) },
      { id: 'layer-2', name: '', current: 5, total: 100, started: date(1), timestamp: date(5) },
    ])
    // A vertex record repeated later keeps the counters.
    tracker.update(status({ vertexes: [{ digest: 'sha256:a', name: 'RUN it', started: at(0), completed: at(200) }] }))
    expect(tracker.vertex('sha256:a')?.statuses).toHaveLength(2)
  })

  it('keeps a step it hears of first through its output', () => {
    const tracker = new BuildProgressTracker()
    const events = tracker.update(log('sha256:late', 'early\n'))
    expect(events.map((e) => e.type)).toEqual(['vertex', 'log'])
    tracker.update(status({ vertexes: [{ digest: 'sha256:late', name: 'RUN late', started: at(0) }] }))
    expect(tracker.vertex('sha256:late')?.name).toBe('RUN late')
    expect(tracker.lastLogLines('sha256:late')).toEqual(['early'])
  })

  it('collects warnings', () => {
    const tracker = trackerWithStep()
    tracker.update(status({ warnings: [{ vertex: 'sha256:a', level: 1n, short: bytes('first') }] }))
    tracker.update(status({ warnings: [{ vertex: 'sha256:a', level: 1n, short: bytes('second'), detail: [bytes('why')] }] }))
    expect(tracker.warnings().map((w) => [w.short, w.detail])).toEqual([
      ['first', []],
      ['second', ['why']],
    ])
  })
})

describe('BuildProgressTracker: logs', () => {
  it('splits output on newlines across chunks and keeps an unfinished last line', () => {
    const tracker = trackerWithStep()
    for (const chunk of ['hel', 'lo\nwor', 'ld\n', '\nlast without end']) tracker.update(log('sha256:a', chunk))
    expect(tracker.lastLogLines('sha256:a')).toEqual(['hello', 'world', '', 'last without end'])
    tracker.update(log('sha256:a', '!\n'))
    expect(tracker.lastLogLines('sha256:a')).toEqual(['hello', 'world', '', 'last without end!'])
    expect(tracker.lastLogLines('sha256:unknown')).toEqual([])
  })

  it('keeps stdout and stderr lines apart when their chunks interleave', () => {
    const tracker = trackerWithStep()
    tracker.update(log('sha256:a', 'out '))
    tracker.update(log('sha256:a', 'err line\n', 2n))
    tracker.update(log('sha256:a', 'line\n'))
    expect(tracker.lastLogLines('sha256:a')).toEqual(['err line', 'out line'])
  })

  it('drops \\r\\n line ends and lets a bare \\r overwrite the line, as a terminal would', () => {
    const tracker = trackerWithStep()
    for (const chunk of ['dos line\r', '\n', 'progress 10%\rprogress 50%\r', 'progress 100%\n']) tracker.update(log('sha256:a', chunk))
    expect(tracker.lastLogLines('sha256:a')).toEqual(['dos line', 'progress 100%'])
  })

  it('keeps only the last lines (20 by default)', () => {
    const tracker = trackerWithStep()
    tracker.update(log('sha256:a', Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join('')))
    const lines = tracker.lastLogLines('sha256:a')
    expect(lines).toHaveLength(20)
    expect(lines[0]).toBe('line 80')
    expect(lines[19]).toBe('line 99')
    tracker.update(log('sha256:a', 'partial'))
    expect(tracker.lastLogLines('sha256:a')).toHaveLength(20)
    expect(tracker.lastLogLines('sha256:a').at(-1)).toBe('partial')
  })

  it('cuts a 10 MiB line, whether it comes in one chunk or many, to the line limit', () => {
    const big = new Uint8Array(10 * 1024 * 1024).fill(0x61)
    const whole = trackerWithStep()
    whole.update(status({ logs: [{ vertex: 'sha256:a', stream: 1n, msg: big }] }))
    const [partial] = whole.lastLogLines('sha256:a')
    expect(partial).toBe(`${'a'.repeat(4096)}… [${10 * 1024 * 1024 - 4096} bytes cut]`)

    const chunked = trackerWithStep()
    for (let offset = 0; offset < big.length; offset += 64 * 1024) chunked.update(status({ logs: [{ vertex: 'sha256:a', stream: 1n, msg: big.subarray(offset, offset + 64 * 1024) }] }))
    chunked.update(log('sha256:a', '\nnext\n'))
    expect(chunked.lastLogLines('sha256:a')).toEqual([partial, 'next'])
  })

  it('bounds the bytes kept per step, dropping the oldest lines', () => {
    const tracker = trackerWithStep({ maxLogBytes: 10_000 })
    tracker.update(log('sha256:a', `${'x'.repeat(3000)}\n`.repeat(10)))
    const lines = tracker.lastLogLines('sha256:a')
    expect(lines).toHaveLength(3)
    expect(lines.join('').length).toBeLessThanOrEqual(10_000)
  })

  it('cuts long lines on a UTF-8 character boundary', () => {
    const tracker = trackerWithStep({ maxLineBytes: 5 })
    tracker.update(log('sha256:a', 'ééé\n'))
    expect(tracker.lastLogLines('sha256:a')).toEqual(['éé… [2 bytes cut]'])
  })

  it('refuses limits that are not positive integers, and unknown options', () => {
    expect(() => new BuildProgressTracker({ maxLogLines: 0 })).toThrow(InvalidArgumentError)
    expect(() => new BuildProgressTracker({ maxLineBytes: 1.5 })).toThrow(/maxLineBytes must be a positive integer/)
    expect(() => new BuildProgressTracker({ maxLogLine: 3 } as never)).toThrow(/did you mean 'maxLogLines'/)
  })
})

describe('BuildProgressTracker.failedVertex', () => {
  const vertex = (digest: string, init: { inputs?: string[]; error?: string; done?: number } = {}) => ({ digest, name: `step ${digest}`, inputs: init.inputs ?? [], started: at(0), ...(init.done === undefined ? {} : { completed: at(init.done) }), error: init.error ?? '' })

  it('is undefined while nothing failed', () => {
    const tracker = new BuildProgressTracker()
    tracker.update(status({ vertexes: [vertex('a', { done: 10 })] }))
    expect(tracker.failedVertex()).toBeUndefined()
  })

  it('prefers the step with a real error over the ones canceled because of it', () => {
    const tracker = new BuildProgressTracker()
    tracker.update(status({ vertexes: [vertex('slow'), vertex('bad')] }))
    tracker.update(status({ vertexes: [vertex('slow', { done: 20, error: 'failed to compute cache key: context canceled' })] }))
    tracker.update(status({ vertexes: [vertex('bad', { done: 30, error: 'exit code: 1' })] }))
    expect(tracker.failedVertex()?.digest).toBe('bad')
  })

  it('prefers the step that printed over a wrapper failing only because its input did', () => {
    const tracker = new BuildProgressTracker()
    tracker.update(status({ vertexes: [vertex('inner'), vertex('wrapper', { inputs: ['inner'] })] }))
    tracker.update(log('inner', 'compiler says no\n'))
    tracker.update(status({ vertexes: [vertex('wrapper', { inputs: ['inner'], done: 5, error: 'exit code: 1' }), vertex('inner', { done: 5, error: 'exit code: 1' })] }))
    expect(tracker.failedVertex()?.digest).toBe('inner')
  })

  it('takes the first to fail among equals, and a canceled step when nothing else failed', () => {
    const tracker = new BuildProgressTracker()
    tracker.update(status({ vertexes: [vertex('one', { done: 5, error: 'context canceled' })] }))
    expect(tracker.failedVertex()?.digest).toBe('one')
    tracker.update(status({ vertexes: [vertex('two', { done: 6, error: 'no such file' }), vertex('three', { done: 6, error: 'other' })] }))
    expect(tracker.failedVertex()?.digest).toBe('two')
  })
})

describe('buildErrorFrom', () => {
  const failedBuild = () => {
    const tracker = new BuildProgressTracker()
    tracker.update(status({ vertexes: [{ digest: 'sha256:run', name: '[2/3] RUN false', started: at(0) }] }))
    tracker.update(log('sha256:run', 'about to fail\n\nreally\n'))
    tracker.update(status({ vertexes: [{ digest: 'sha256:run', name: '[2/3] RUN false', started: at(0), completed: at(50), error: 'process "/bin/sh -c false" did not complete successfully: exit code: 1' }] }))
    return tracker
  }

  it('names the failed step, its error and its last lines', () => {
    const solveError = errorFromStatus(GrpcCode.Unknown, 'process "/bin/sh -c false" did not complete successfully: exit code: 1', '/moby.buildkit.v1.Control/Solve')
    const err = buildErrorFrom(failedBuild(), solveError)
    expect(err.message).toBe('build failed at [2/3] RUN false: process "/bin/sh -c false" did not complete successfully: exit code: 1\n  about to fail\n\n  really')
    expect(err).toBeInstanceOf(BuildError)
    expect(err).toBeInstanceOf(ContainerdError)
    expect(err).toBeInstanceOf(UnknownError)
    expect(err.name).toBe('BuildError')
    expect(err.code).toBe('Unknown')
    expect(err.method).toBe('/moby.buildkit.v1.Control/Solve')
    expect(err.cause).toBe(solveError)
    expect(err.step).toBe('[2/3] RUN false')
    expect(err.vertexError).toBe('process "/bin/sh -c false" did not complete successfully: exit code: 1')
    expect(err.logs).toEqual(['about to fail', '', 'really'])
  })

  it('keeps the class of the Solve failure, so an abort stays a CanceledError', () => {
    const canceled = new CanceledError('the build was canceled', { cause: new Error('user') })
    const err = buildErrorFrom(new BuildProgressTracker(), canceled)
    expect(err).toBeInstanceOf(BuildError)
    expect(err).toBeInstanceOf(CanceledError)
    expect(err.message).toBe('build failed: the build was canceled')
    expect(err.step).toBeUndefined()
    expect(err.logs).toEqual([])
  })

  it('uses the Solve error when the only failed step was canceled', () => {
    const tracker = new BuildProgressTracker()
    tracker.update(status({ vertexes: [{ digest: 'sha256:x', name: 'RUN sleep 60', started: at(0), completed: at(5), error: 'context canceled' }] }))
    const err = buildErrorFrom(tracker, new Error('session closed'))
    expect(err.message).toBe('build failed: session closed')
    expect(err.step).toBe('RUN sleep 60')
    expect(err.code).toBe('Unknown')
  })

  it('accepts anything as the Solve error and returns a BuildError as it is', () => {
    expect(buildErrorFrom(new BuildProgressTracker(), undefined).message).toBe('build failed: unknown error')
    expect(buildErrorFrom(new BuildProgressTracker(), 'boom').message).toBe('build failed: boom')
    const err = buildErrorFrom(failedBuild(), new Error('x'))
    expect(buildErrorFrom(new BuildProgressTracker(), err)).toBe(err)
  })
})
