import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { asCanceled, canceledError, throwIfAborted } from '../../../src/grpc/abort.js'
import { abortError } from '../../../src/grpc/call-status.js'
import { CanceledError, DeadlineExceededError, NotFoundError } from '../../../src/grpc/errors.js'

describe('canceledError', () => {
  it('is a CanceledError carrying the reason, named in the message', () => {
    const reason = new Error('user gave up')
    const err = canceledError(AbortSignal.abort(reason), 'pull x')
    expect(err).toBeInstanceOf(CanceledError)
    expect(err.cause).toBe(reason)
    expect(err.message).toBe('pull x: aborted (user gave up)')
    expect(canceledError(AbortSignal.abort('stop'), 'pull x').message).toBe('pull x: aborted (stop)')
  })

  it('is a DeadlineExceededError for a timeout signal', async () => {
    const signal = AbortSignal.timeout(1)
    await sleep(20)
    const err = canceledError(signal, 'pull x')
    expect(err).toBeInstanceOf(DeadlineExceededError)
    expect(err.cause).toBe(signal.reason)
  })
})

describe('asCanceled', () => {
  it('passes errors through while the signal has not aborted', () => {
    const err = new Error('boom')
    expect(asCanceled(err, undefined, 'x')).toBe(err)
    expect(asCanceled(err, new AbortController().signal, 'x')).toBe(err)
  })

  it("turns Node's AbortError, the raw reason or any other error into a CanceledError once aborted", async () => {
    const controller = new AbortController()
    const reason = new Error('enough')
    const waiting = sleep(10_000, undefined, { signal: controller.signal })
    controller.abort(reason)
    const nodeError = await waiting.catch((e: unknown) => e)
    expect((nodeError as Error).name).toBe('AbortError')
    for (const err of [nodeError, reason, new NotFoundError('gone meanwhile'), 'text']) {
      const typed = asCanceled(err, controller.signal, 'waiting')
      expect(typed).toBeInstanceOf(CanceledError)
      expect((typed as Error).cause).toBe(reason)
    }
  })

  it('keeps an abort error the transport already made for the same reason (it names the method)', () => {
    const signal = AbortSignal.abort(new Error('stop'))
    const fromCall = abortError(signal, '/pkg.Service/Method')
    expect(asCanceled(fromCall, signal, 'x')).toBe(fromCall)
    // One made for another signal's reason is replaced.
    const other = new CanceledError('other', { cause: new Error('internal') })
    expect((asCanceled(other, signal, 'x') as Error).cause).toBe(signal.reason)
  })
})

describe('throwIfAborted', () => {
  it('throws the typed error, not the raw reason', () => {
    expect(() => throwIfAborted(undefined, 'x')).not.toThrow()
    expect(() => throwIfAborted(new AbortController().signal, 'x')).not.toThrow()
    const reason = new Error('no')
    let caught: unknown
    try {
      throwIfAborted(AbortSignal.abort(reason), 'locking /x')
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(CanceledError)
    expect((caught as Error).cause).toBe(reason)
  })
})
