import { constants } from 'node:http2'
import type { IncomingHttpHeaders } from 'node:http2'
import { describe, it, expect } from 'vitest'
import {
  CanceledError,
  ContainerdError,
  DeadlineExceededError,
  GrpcCode,
  InternalError,
  ResourceExhaustedError,
  UnavailableError,
} from '../../../src/grpc/errors.js'
import { abortError, checkResponseHeaders, errorFromRstCode, statusFromHeaders } from '../../../src/grpc/call-status.js'

const METHOD = '/containerd.services.containers.v1.Containers/Get'

/** Response headers as node:http2 delivers them (`:status` is a number at runtime). */
function headers(h: Record<string, string | number | string[]>): IncomingHttpHeaders {
  return h as IncomingHttpHeaders
}

describe('statusFromHeaders', () => {
  it('returns undefined without grpc-status', () => {
    expect(statusFromHeaders({})).toBeUndefined()
    expect(statusFromHeaders({ 'grpc-message': 'ignored' })).toBeUndefined()
  })

  it('reads the status code and an empty message when grpc-message is missing', () => {
    expect(statusFromHeaders({ 'grpc-status': '0' })).toEqual({ code: 0, message: '' })
    expect(statusFromHeaders({ 'grpc-status': '5' })).toEqual({ code: 5, message: '' })
  })

  it('percent-decodes grpc-message', () => {
    expect(statusFromHeaders({ 'grpc-status': '5', 'grpc-message': 'container%20%22abc%22%3A%20not%20found' })).toEqual({
      code: 5,
      message: 'container "abc": not found',
    })
  })

  it('decodes percent-encoded UTF-8', () => {
    expect(statusFromHeaders({ 'grpc-status': '2', 'grpc-message': 'caf%C3%A9 %E2%9C%93' })?.message).toBe('café ✓')
  })

  it('does not turn + into a space', () => {
    expect(statusFromHeaders({ 'grpc-status': '2', 'grpc-message': 'a+b' })?.message).toBe('a+b')
  })

  it('keeps a message with a malformed escape as sent', () => {
    expect(statusFromHeaders({ 'grpc-status': '13', 'grpc-message': '100% broken' })).toEqual({ code: 13, message: '100% broken' })
    expect(statusFromHeaders({ 'grpc-status': '13', 'grpc-message': 'bad %zz escape' })?.message).toBe('bad %zz escape')
    expect(statusFromHeaders({ 'grpc-status': '13', 'grpc-message': 'truncated %E2%9C' })?.message).toBe('truncated %E2%9C')
  })

  it('maps a non-numeric status to Unknown', () => {
    expect(statusFromHeaders({ 'grpc-status': 'abc' })?.code).toBe(GrpcCode.Unknown)
    expect(statusFromHeaders({ 'grpc-status': '1.5' })?.code).toBe(GrpcCode.Unknown)
  })

  it('takes the first value of array headers', () => {
    expect(statusFromHeaders(headers({ 'grpc-status': ['9', '2'], 'grpc-message': ['first%21', 'second'] }))).toEqual({ code: 9, message: 'first!' })
  })
})

describe('checkResponseHeaders', () => {
  it('accepts HTTP 200 with a gRPC content type', () => {
    expect(checkResponseHeaders(headers({ ':status': 200, 'content-type': 'application/grpc' }), METHOD)).toBeUndefined()
    expect(checkResponseHeaders(headers({ ':status': 200, 'content-type': 'application/grpc+proto' }), METHOD)).toBeUndefined()
  })

  it('accepts the status as a string', () => {
    expect(checkResponseHeaders(headers({ ':status': '200', 'content-type': 'application/grpc' }), METHOD)).toBeUndefined()
  })

  it('rejects a non-200 status with UnavailableError', () => {
    const err = checkResponseHeaders(headers({ ':status': 404, 'content-type': 'text/plain' }), METHOD)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err?.message).toBe(`${METHOD}: the server answered HTTP 404 instead of gRPC`)
    expect(err?.method).toBe(METHOD)
    expect(err?.grpcCode).toBe(GrpcCode.Unavailable)
  })

  it('checks the status before the content type', () => {
    const err = checkResponseHeaders(headers({ ':status': 503, 'content-type': 'application/grpc' }), METHOD)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err?.message).toContain('HTTP 503')
  })

  it('reports a missing status as ?', () => {
    const err = checkResponseHeaders(headers({ 'content-type': 'application/grpc' }), METHOD)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err?.message).toBe(`${METHOD}: the server answered HTTP ? instead of gRPC`)
  })

  it('rejects a wrong content type with InternalError', () => {
    const err = checkResponseHeaders(headers({ ':status': 200, 'content-type': 'text/html' }), METHOD)
    expect(err).toBeInstanceOf(InternalError)
    expect(err?.message).toBe(`${METHOD}: unexpected content-type text/html in a gRPC response`)
    expect(err?.method).toBe(METHOD)
  })

  it('rejects a missing content type', () => {
    const err = checkResponseHeaders(headers({ ':status': 200 }), METHOD)
    expect(err).toBeInstanceOf(InternalError)
    expect(err?.message).toBe(`${METHOD}: unexpected content-type (none) in a gRPC response`)
  })

  it('rejects a content type that merely contains grpc', () => {
    expect(checkResponseHeaders(headers({ ':status': 200, 'content-type': 'text/application/grpc' }), METHOD)).toBeInstanceOf(InternalError)
  })
})

describe('errorFromRstCode', () => {
  it('REFUSED_STREAM → Unavailable (safe to retry)', () => {
    const cause = new Error('refused')
    const err = errorFromRstCode(constants.NGHTTP2_REFUSED_STREAM, METHOD, cause)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err.message).toBe(`${METHOD}: the stream was refused by the server`)
    expect(err.method).toBe(METHOD)
    expect(err.cause).toBe(cause)
  })

  it('CANCEL → Canceled', () => {
    const err = errorFromRstCode(constants.NGHTTP2_CANCEL, METHOD)
    expect(err).toBeInstanceOf(CanceledError)
    expect(err.message).toBe(`${METHOD}: the stream was canceled`)
    expect(err.method).toBe(METHOD)
    expect(err.cause).toBeUndefined()
  })

  it('ENHANCE_YOUR_CALM → ResourceExhausted', () => {
    const err = errorFromRstCode(constants.NGHTTP2_ENHANCE_YOUR_CALM, METHOD)
    expect(err).toBeInstanceOf(ResourceExhaustedError)
    expect(err.grpcCode).toBe(GrpcCode.ResourceExhausted)
    expect(err.message).toBe(`${METHOD}: the server asked to slow down (ENHANCE_YOUR_CALM)`)
    expect(err.method).toBe(METHOD)
  })

  it.each([
    constants.NGHTTP2_NO_ERROR,
    constants.NGHTTP2_PROTOCOL_ERROR,
    constants.NGHTTP2_INTERNAL_ERROR,
    constants.NGHTTP2_FLOW_CONTROL_ERROR,
    constants.NGHTTP2_STREAM_CLOSED,
    constants.NGHTTP2_INADEQUATE_SECURITY,
    999,
  ])('other code %i → Unavailable naming the code', (code) => {
    const cause = new Error('x')
    const err = errorFromRstCode(code, METHOD, cause)
    expect(err).toBeInstanceOf(UnavailableError)
    expect(err.message).toBe(`${METHOD}: the stream closed without a gRPC status (HTTP/2 code ${code})`)
    expect(err.cause).toBe(cause)
  })
})

describe('abortError', () => {
  it('a TimeoutError reason becomes DeadlineExceededError with the reason as cause', () => {
    const reason = new DOMException('The operation timed out.', 'TimeoutError')
    const controller = new AbortController()
    controller.abort(reason)
    const err = abortError(controller.signal, METHOD)
    expect(err).toBeInstanceOf(DeadlineExceededError)
    expect(err.message).toBe(`${METHOD}: the deadline passed`)
    expect(err.method).toBe(METHOD)
    expect(err.cause).toBe(reason)
  })

  it('AbortSignal.timeout produces DeadlineExceededError', async () => {
    const signal = AbortSignal.timeout(1)
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
    const err = abortError(signal, METHOD)
    expect(err).toBeInstanceOf(DeadlineExceededError)
    expect((err.cause as Error).name).toBe('TimeoutError')
  })

  it('any Error named TimeoutError counts', () => {
    const reason = Object.assign(new Error('slow'), { name: 'TimeoutError' })
    const err = abortError(AbortSignal.abort(reason), METHOD)
    expect(err).toBeInstanceOf(DeadlineExceededError)
    expect(err.cause).toBe(reason)
  })

  it('a default abort becomes CanceledError with the AbortError as cause', () => {
    const controller = new AbortController()
    controller.abort()
    const err = abortError(controller.signal, METHOD)
    expect(err).toBeInstanceOf(CanceledError)
    expect(err).not.toBeInstanceOf(DeadlineExceededError)
    expect(err.message).toBe(`${METHOD}: the call was canceled`)
    expect(err.method).toBe(METHOD)
    expect(err.cause).toBe(controller.signal.reason)
    expect((err.cause as Error).name).toBe('AbortError')
  })

  it('a custom Error reason is kept as cause', () => {
    const reason = new Error('user pressed ctrl-c')
    const err = abortError(AbortSignal.abort(reason), METHOD)
    expect(err).toBeInstanceOf(CanceledError)
    expect(err.cause).toBe(reason)
  })

  it('a non-Error reason (even a { name: "TimeoutError" } object) gives CanceledError', () => {
    const str = abortError(AbortSignal.abort('stop'), METHOD)
    expect(str).toBeInstanceOf(CanceledError)
    expect(str.cause).toBe('stop')
    const obj = { name: 'TimeoutError' }
    const fromObj = abortError(AbortSignal.abort(obj), METHOD)
    expect(fromObj).toBeInstanceOf(CanceledError)
    expect(fromObj.cause).toBe(obj)
  })

  it('returns ContainerdError instances', () => {
    expect(abortError(AbortSignal.abort(), METHOD)).toBeInstanceOf(ContainerdError)
  })
})

describe('malformed status headers', () => {
  it('never reads an empty or non-decimal grpc-status as OK', () => {
    expect(statusFromHeaders({ 'grpc-status': '' } as IncomingHttpHeaders)?.code).toBe(GrpcCode.Unknown)
    expect(statusFromHeaders({ 'grpc-status': ' ' } as IncomingHttpHeaders)?.code).toBe(GrpcCode.Unknown)
    expect(statusFromHeaders({ 'grpc-status': '0x5' } as IncomingHttpHeaders)?.code).toBe(GrpcCode.Unknown)
    expect(statusFromHeaders({ 'grpc-status': '5' } as IncomingHttpHeaders)?.code).toBe(5)
  })

  it('accepts application/grpc with a codec or parameters only', () => {
    const ok = (type: string) => checkResponseHeaders({ ':status': 200, 'content-type': type } as unknown as IncomingHttpHeaders, '/m')
    expect(ok('application/grpc')).toBeUndefined()
    expect(ok('application/grpc+proto')).toBeUndefined()
    expect(ok('application/grpc;charset=utf-8')).toBeUndefined()
    expect(ok('application/grpc-web')).toBeDefined()
    expect(ok('application/grpcfoo')).toBeDefined()
  })
})
