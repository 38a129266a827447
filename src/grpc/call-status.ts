import { constants, type IncomingHttpHeaders } from 'node:http2'
import {
  CanceledError,
  type ContainerdError,
  DeadlineExceededError,
  errorFromStatus,
  GrpcCode,
  InternalError,
  UnavailableError,
} from './errors.js'

/** Reads `grpc-status`/`grpc-message` from trailers (or a trailers-only response); undefined if absent. */
export function statusFromHeaders(headers: IncomingHttpHeaders): { code: number; message: string } | undefined {
  const raw = headers['grpc-status']
  if (raw === undefined) return undefined
  const text = String(Array.isArray(raw) ? raw[0] : raw)
  // Only a plain decimal is a status: an empty or malformed header must not read as OK (0).
  const code = /^\d+$/.test(text) ? Number(text) : GrpcCode.Unknown
  const msg = headers['grpc-message']
  return { code, message: decodeGrpcMessage(Array.isArray(msg) ? msg[0] : msg) }
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec); a malformed escape is kept as sent. */
function decodeGrpcMessage(value: string | undefined): string {
  if (value === undefined) return ''
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

const GRPC_CONTENT_TYPE = /^application\/grpc(?:$|[+;])/

/** Checks the response headers: HTTP 200 and a gRPC content type, else the peer is not a gRPC server. */
export function checkResponseHeaders(headers: IncomingHttpHeaders, method: string): ContainerdError | undefined {
  const status = headers[':status'] as number | string | undefined
  if (Number(status) !== 200) {
    return new UnavailableError(`${method}: the server answered HTTP ${status ?? '?'} instead of gRPC`, { method })
  }
  const type = headers['content-type']
  // containerd's exact answer is checked first, sparing the pattern on every call.
  if (type === 'application/grpc') return undefined
  // gRPC allows `application/grpc` alone or with a `+codec` / `;params` suffix, nothing else.
  if (type === undefined || !GRPC_CONTENT_TYPE.test(type)) {
    return new InternalError(`${method}: unexpected content-type ${type ?? '(none)'} in a gRPC response`, { method })
  }
  return undefined
}

/** Maps an HTTP/2 RST_STREAM code to an error when the stream closed without a gRPC status. */
export function errorFromRstCode(rstCode: number, method: string, cause?: unknown): ContainerdError {
  const options = { method, cause }
  switch (rstCode) {
    case constants.NGHTTP2_REFUSED_STREAM:
      // The server refused before processing: safe to retry, like gRPC's "unavailable".
      return new UnavailableError(`${method}: the stream was refused by the server`, options)
    case constants.NGHTTP2_CANCEL:
      return new CanceledError(`${method}: the stream was canceled`, options)
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return errorFromStatus(GrpcCode.ResourceExhausted, `${method}: the server asked to slow down (ENHANCE_YOUR_CALM)`, method)
    default:
      return new UnavailableError(`${method}: the stream closed without a gRPC status (HTTP/2 code ${rstCode})`, options)
  }
}

/** The error an AbortSignal produces: Canceled, carrying the signal's reason as the cause. */
export function abortError(signal: AbortSignal, method: string): ContainerdError {
  const reason: unknown = signal.reason
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new DeadlineExceededError(`${method}: the deadline passed`, { method, cause: reason })
  }
  return new CanceledError(`${method}: the call was canceled`, { method, cause: reason })
}
