import { describe, expect, it } from 'vitest'
import { checkTimeoutMs, expiredDeadline, grpcTimeoutHeader, MAX_TIMEOUT_MS } from '../../../src/grpc/deadline.js'
import { DeadlineExceededError, InvalidArgumentError } from '../../../src/grpc/errors.js'
import { Http2Channel } from '../../../src/grpc/http2-channel.js'

const METHOD = '/containerd.services.version.v1.Version/Version'
// Nothing listens here: a call that got as far as connecting would fail with UnavailableError instead.
const NOWHERE = '/nonexistent/containerd-sdk-test.sock'

describe('checkTimeoutMs', () => {
  it.each([1, 0.5, 10_000, MAX_TIMEOUT_MS, 0, -1, -Infinity])('accepts %d', (value) => {
    expect(() => checkTimeoutMs(value, METHOD)).not.toThrow()
  })

  it.each([NaN, Infinity, MAX_TIMEOUT_MS + 1, 1e12, '5000', null, 10n, {}])('refuses %s with InvalidArgumentError naming the range', (value) => {
    let caught: unknown
    try {
      checkTimeoutMs(value, METHOD)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError)
    expect((caught as Error).message).toMatch(new RegExp(`^${METHOD}: timeoutMs must be a number of milliseconds up to 2147483647 \\(about 24\\.8 days\\), got .+; leave it out for no deadline$`))
  })
})

describe('expiredDeadline', () => {
  it('is a DeadlineExceededError for zero or less, nothing otherwise', () => {
    expect(expiredDeadline(0, METHOD)).toBeInstanceOf(DeadlineExceededError)
    expect(expiredDeadline(-5, METHOD)?.message).toBe(`${METHOD}: the deadline had passed before the call (timeoutMs -5)`)
    expect(expiredDeadline(-5, METHOD)?.method).toBe(METHOD)
    expect(expiredDeadline(1, METHOD)).toBeUndefined()
    expect(expiredDeadline(undefined, METHOD)).toBeUndefined()
  })
})

describe('grpcTimeoutHeader', () => {
  it('sends whole milliseconds while they fit in 8 digits, whole seconds after', () => {
    expect(grpcTimeoutHeader(0.2)).toBe('1m')
    expect(grpcTimeoutHeader(1500.1)).toBe('1501m')
    expect(grpcTimeoutHeader(99_999_999)).toBe('99999999m')
    // 9 digits of milliseconds made containerd answer HTTP 400 (seen as "not gRPC" Unavailable).
    expect(grpcTimeoutHeader(100_000_000)).toBe('100000S')
    expect(grpcTimeoutHeader(MAX_TIMEOUT_MS)).toBe('2147484S')
    expect(grpcTimeoutHeader(100_000_001)).toBe('100001S')
  })
})

describe('Http2Channel call options', () => {
  it.each([NaN, Infinity, 2 ** 31, 1e12])('refuses timeoutMs %d before connecting, for unary and streaming calls', async (timeoutMs) => {
    const channel = new Http2Channel(NOWHERE)
    try {
      await expect(channel.unary(METHOD, new Uint8Array(), {}, { timeoutMs })).rejects.toBeInstanceOf(InvalidArgumentError)
      const stream = channel.stream(METHOD, new Uint8Array(), {}, { timeoutMs })
      await expect(stream.next()).rejects.toBeInstanceOf(InvalidArgumentError)
    } finally {
      channel.close()
    }
  })

  it.each([0, -1])('fails timeoutMs %d as a deadline already passed, before connecting', async (timeoutMs) => {
    const channel = new Http2Channel(NOWHERE)
    try {
      const err = await channel.unary(METHOD, new Uint8Array(), {}, { timeoutMs }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(DeadlineExceededError)
      expect((err as DeadlineExceededError).method).toBe(METHOD)
    } finally {
      channel.close()
    }
  })

  it('refuses a connect timeout a timer cannot hold', () => {
    expect(() => new Http2Channel(NOWHERE, { connectTimeoutMs: NaN })).toThrow(InvalidArgumentError)
    expect(() => new Http2Channel(NOWHERE, { connectTimeoutMs: 2 ** 31 })).toThrow(/^connecting to \/nonexistent\/containerd-sdk-test\.sock: timeoutMs must be/)
  })
})
