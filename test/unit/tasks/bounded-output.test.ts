// maxBuffer's pure parts: the option check and the bounded buffer/collector behind exec().output().
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError, ResourceExhaustedError } from '../../../src/grpc/errors.js'
import { BoundedBuffer, checkMaxBuffer, DEFAULT_MAX_BUFFER, OutputCollector } from '../../../src/tasks/bounded-output.js'

describe('checkMaxBuffer', () => {
  it("defaults to child_process's 1 MiB and takes integers ≥ 0 and Infinity", () => {
    expect(DEFAULT_MAX_BUFFER).toBe(1024 * 1024)
    expect(checkMaxBuffer(undefined)).toBe(1024 * 1024)
    expect(checkMaxBuffer(0)).toBe(0)
    expect(checkMaxBuffer(5)).toBe(5)
    expect(checkMaxBuffer(Infinity)).toBe(Infinity)
  })

  it('refuses anything else, naming the value', () => {
    for (const bad of [-1, 1.5, NaN, -Infinity, '1m', null, {}]) expect(() => checkMaxBuffer(bad)).toThrow(InvalidArgumentError)
    expect(() => checkMaxBuffer('1m')).toThrow(/maxBuffer must be a number of bytes.*got "1m"/)
  })
})

describe('BoundedBuffer', () => {
  it('keeps up to maxBuffer bytes (exactly maxBuffer is fine), then fails with ResourceExhaustedError and keeps nothing', () => {
    const b = new BoundedBuffer('stdout', 4)
    expect(b.push(Buffer.from('ab'))).toBe(true)
    expect(b.push(Buffer.from('cd'))).toBe(true)
    expect(b.text).toBe('abcd')
    expect(b.overflow).toBeUndefined()
    expect(b.push(Buffer.from('e'))).toBe(false)
    expect(b.overflow).toBeInstanceOf(ResourceExhaustedError)
    expect(b.overflow?.message).toBe('stdout exceeded maxBuffer (4 bytes)')
    expect(b.push(Buffer.from('f'))).toBe(false)
    expect(b.text).toBe('')
  })

  it('joins multi-byte characters split across chunks', () => {
    const b = new BoundedBuffer('stdout', 100)
    const euro = Buffer.from('€')
    b.push(euro.subarray(0, 1))
    b.push(euro.subarray(1))
    expect(b.text).toBe('€')
  })
})

describe('OutputCollector', () => {
  it('resolves with the text at the end; "" for no stream', async () => {
    const stream = new PassThrough()
    const c = new OutputCollector(stream, 'stdout', 10, () => { throw new Error('no overflow expected') })
    stream.end('hello')
    expect(await c.done).toBe('hello')
    expect(await new OutputCollector(undefined, 'stderr', 10, () => undefined).done).toBe('')
  })

  it('reports the overflow once and keeps reading (and dropping) to the end', async () => {
    const stream = new PassThrough()
    const errors: ResourceExhaustedError[] = []
    const c = new OutputCollector(stream, 'stderr', 3, (err) => errors.push(err))
    for (const s of ['ab', 'cd', 'ef', 'gh']) stream.write(s)
    stream.end()
    await c.done
    expect(errors.map((e) => e.message)).toEqual(['stderr exceeded maxBuffer (3 bytes)'])
    expect(c.overflow).toBe(errors[0])
    // Everything was read: the writer was never held back.
    expect(stream.readableEnded).toBe(true)
  })
})
