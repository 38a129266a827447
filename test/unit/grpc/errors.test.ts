import { describe, it, expect } from 'vitest'
import {
  AbortedError,
  AlreadyExistsError,
  CanceledError,
  ConflictError,
  ContainerdError,
  DataLossError,
  DeadlineExceededError,
  FailedPreconditionError,
  GrpcCode,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  NotModifiedError,
  OutOfRangeError,
  PermissionDeniedError,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
  UnknownError,
  createError,
  errorFromStatus,
  isContainerdError,
} from '../../../src/grpc/errors.js'
import type { ContainerdErrorOptions, ErrorCode } from '../../../src/grpc/errors.js'

type ErrorClass = new (message: string, options?: ContainerdErrorOptions) => ContainerdError

const BRAND = Symbol.for('containerd-sdk.ContainerdError')

// Every gRPC code except OK and FailedPrecondition (whose class depends on the message) → class.
const byGrpcCode: [number, ErrorCode, ErrorClass][] = [
  [GrpcCode.Canceled, 'Canceled', CanceledError],
  [GrpcCode.Unknown, 'Unknown', UnknownError],
  [GrpcCode.InvalidArgument, 'InvalidArgument', InvalidArgumentError],
  [GrpcCode.DeadlineExceeded, 'DeadlineExceeded', DeadlineExceededError],
  [GrpcCode.NotFound, 'NotFound', NotFoundError],
  [GrpcCode.AlreadyExists, 'AlreadyExists', AlreadyExistsError],
  [GrpcCode.PermissionDenied, 'PermissionDenied', PermissionDeniedError],
  [GrpcCode.ResourceExhausted, 'ResourceExhausted', ResourceExhaustedError],
  [GrpcCode.Aborted, 'Aborted', AbortedError],
  [GrpcCode.OutOfRange, 'OutOfRange', OutOfRangeError],
  [GrpcCode.Unimplemented, 'NotImplemented', NotImplementedError],
  [GrpcCode.Internal, 'Internal', InternalError],
  [GrpcCode.Unavailable, 'Unavailable', UnavailableError],
  [GrpcCode.DataLoss, 'DataLoss', DataLossError],
  [GrpcCode.Unauthenticated, 'Unauthenticated', UnauthenticatedError],
]

// Every errdefs code → class and the gRPC code it implies by default.
const byErrorCode: [ErrorCode, ErrorClass, number][] = [
  ['Unknown', UnknownError, 2],
  ['Canceled', CanceledError, 1],
  ['DeadlineExceeded', DeadlineExceededError, 4],
  ['InvalidArgument', InvalidArgumentError, 3],
  ['NotFound', NotFoundError, 5],
  ['AlreadyExists', AlreadyExistsError, 6],
  ['PermissionDenied', PermissionDeniedError, 7],
  ['ResourceExhausted', ResourceExhaustedError, 8],
  ['FailedPrecondition', FailedPreconditionError, 9],
  ['Conflict', ConflictError, 9],
  ['NotModified', NotModifiedError, 9],
  ['Aborted', AbortedError, 10],
  ['OutOfRange', OutOfRangeError, 11],
  ['NotImplemented', NotImplementedError, 12],
  ['Internal', InternalError, 13],
  ['Unavailable', UnavailableError, 14],
  ['DataLoss', DataLossError, 15],
  ['Unauthenticated', UnauthenticatedError, 16],
]

describe('GrpcCode', () => {
  it('has the standard gRPC numeric values', () => {
    expect(GrpcCode).toEqual({
      OK: 0,
      Canceled: 1,
      Unknown: 2,
      InvalidArgument: 3,
      DeadlineExceeded: 4,
      NotFound: 5,
      AlreadyExists: 6,
      PermissionDenied: 7,
      ResourceExhausted: 8,
      FailedPrecondition: 9,
      Aborted: 10,
      OutOfRange: 11,
      Unimplemented: 12,
      Internal: 13,
      Unavailable: 14,
      DataLoss: 15,
      Unauthenticated: 16,
    })
  })
})

describe('errorFromStatus', () => {
  it.each(byGrpcCode)('maps gRPC code %i to %s', (grpcCode, code, cls) => {
    const err = errorFromStatus(grpcCode, 'something failed', '/pkg.Service/Method')
    expect(err).toBeInstanceOf(cls)
    expect(err).toBeInstanceOf(ContainerdError)
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe(code)
    expect(err.grpcCode).toBe(grpcCode)
    expect(err.message).toBe('something failed')
    expect(err.method).toBe('/pkg.Service/Method')
    expect(err.name).toBe(`${code}Error`)
  })

  it('maps OK (0) to Unknown while keeping the code that was sent', () => {
    const err = errorFromStatus(GrpcCode.OK, 'weird')
    expect(err).toBeInstanceOf(UnknownError)
    expect(err.code).toBe('Unknown')
    expect(err.grpcCode).toBe(0)
  })

  it.each([17, 99, -1, 1.5])('maps out-of-range code %d to Unknown and keeps the raw code', (grpcCode) => {
    const err = errorFromStatus(grpcCode, 'm')
    expect(err).toBeInstanceOf(UnknownError)
    expect(err.code).toBe('Unknown')
    expect(err.grpcCode).toBe(grpcCode)
  })

  it('leaves method undefined when not given', () => {
    const err = errorFromStatus(GrpcCode.NotFound, 'm')
    expect(err.method).toBeUndefined()
    expect(err.cause).toBeUndefined()
  })

  describe('FailedPrecondition split by message suffix', () => {
    it.each([
      ['conflict', 'Conflict', ConflictError],
      ['update container abc: conflict', 'Conflict', ConflictError],
      ['lock held: conflict', 'Conflict', ConflictError],
      ['not modified', 'NotModified', NotModifiedError],
      ['image busybox: not modified', 'NotModified', NotModifiedError],
      ['precondition failed', 'FailedPrecondition', FailedPreconditionError],
      ['', 'FailedPrecondition', FailedPreconditionError],
      // Suffix must be preceded by ": " (or be the whole message).
      ['inconflict', 'FailedPrecondition', FailedPreconditionError],
      ['x:conflict', 'FailedPrecondition', FailedPreconditionError],
      ['x conflict', 'FailedPrecondition', FailedPreconditionError],
      ['was not modified', 'FailedPrecondition', FailedPreconditionError],
      // Only the suffix counts, not a prefix or the middle.
      ['conflict: on update', 'FailedPrecondition', FailedPreconditionError],
      ['not modified: x', 'FailedPrecondition', FailedPreconditionError],
      ['a: conflict: b', 'FailedPrecondition', FailedPreconditionError],
      // Case-sensitive, like containerd's Go client.
      ['x: Conflict', 'FailedPrecondition', FailedPreconditionError],
      ['CONFLICT', 'FailedPrecondition', FailedPreconditionError],
      ['x: conflict ', 'FailedPrecondition', FailedPreconditionError],
    ] as [string, ErrorCode, ErrorClass][])('%j → %s', (message, code, cls) => {
      const err = errorFromStatus(GrpcCode.FailedPrecondition, message)
      expect(err).toBeInstanceOf(cls)
      expect(err.code).toBe(code)
      expect(err.grpcCode).toBe(GrpcCode.FailedPrecondition)
      expect(err.message).toBe(message)
    })

    it('does not apply the suffix rule to other codes', () => {
      const err = errorFromStatus(GrpcCode.Aborted, 'x: conflict')
      expect(err).toBeInstanceOf(AbortedError)
      expect(err).not.toBeInstanceOf(ConflictError)
      const err2 = errorFromStatus(GrpcCode.Unknown, 'not modified')
      expect(err2.code).toBe('Unknown')
    })

    it('Conflict and NotModified are not FailedPreconditionError instances (distinct codes)', () => {
      const conflict = errorFromStatus(GrpcCode.FailedPrecondition, 'x: conflict')
      expect(conflict).not.toBeInstanceOf(FailedPreconditionError)
      expect(conflict).not.toBeInstanceOf(NotModifiedError)
      const notModified = errorFromStatus(GrpcCode.FailedPrecondition, 'x: not modified')
      expect(notModified).not.toBeInstanceOf(FailedPreconditionError)
      expect(notModified).not.toBeInstanceOf(ConflictError)
    })
  })
})

describe('errorFromStatus: the runtime\'s wrong-state refusals (sent as Unknown)', () => {
  // Wording of containerd's runc shim (pkg/process init_state.go, exec_state.go, deleted_state.go) and of
  // runc, as the three daemon lines send it: 1.6 and 1.7 append ": unknown", 2.x does not.
  const refusals = [
    'cannot exec in a stopped state',
    'cannot exec in a paused state',
    'cannot exec in a created state',
    'cannot exec in a deleted state',
    'cannot pause a stopped container',
    'cannot pause a paused container',
    'cannot pause a deleted process',
    'cannot pause task in created state',
    'cannot resume a stopped container',
    'cannot resume a running process',
    'cannot resume task in created state',
    'cannot start a stopped process',
    'cannot start a running process',
    'cannot start a paused process',
    'cannot delete a running process',
    'cannot delete a paused process',
    'cannot update a stopped container',
    'cannot checkpoint a stopped container',
    'cannot checkpoint a task in created state',
    'cannot resize a stopped container',
    'cannot resize a deleted process',
    'OCI runtime exec failed: exec failed: cannot exec in a stopped container',
    'OCI runtime exec failed: exec failed: cannot exec in a paused container (use --ignore-paused to override)',
    'OCI runtime pause failed: container not running',
    'OCI runtime resume failed: container not paused',
    'OCI runtime start failed: cannot start a container that has stopped',
    'OCI runtime start failed: cannot start an already running container',
    'container abc123 is not running',
    'os: process already finished',
  ]

  it.each(refusals.flatMap((m) => [m, `${m}: unknown`]))('%s → FailedPreconditionError, keeping grpcCode Unknown', (message) => {
    const err = errorFromStatus(GrpcCode.Unknown, message, '/containerd.services.tasks.v1.Tasks/Exec')
    expect(err).toBeInstanceOf(FailedPreconditionError)
    expect(err.code).toBe('FailedPrecondition')
    expect(err.grpcCode).toBe(GrpcCode.Unknown)
    expect(err.message).toBe(message)
    expect(err.method).toBe('/containerd.services.tasks.v1.Tasks/Exec')
  })

  it.each([
    'something failed',
    'failed to create shim task: OCI runtime create failed: exec: "nope": executable file not found in $PATH: unknown',
    'ttrpc: closed: unknown',
    'cannot start the engine',
    'not running out of memory',
  ])('leaves other Unknown messages Unknown: %s', (message) => {
    const err = errorFromStatus(GrpcCode.Unknown, message)
    expect(err).toBeInstanceOf(UnknownError)
    expect(err.code).toBe('Unknown')
  })

  it('keeps the class of the other codes that carry such words', () => {
    // containerd already classes a kill of an exited process: NotFound stays NotFound.
    expect(errorFromStatus(GrpcCode.NotFound, 'process already finished: not found')).toBeInstanceOf(NotFoundError)
    expect(errorFromStatus(GrpcCode.Internal, 'cannot pause a stopped container')).toBeInstanceOf(InternalError)
    expect(errorFromStatus(GrpcCode.FailedPrecondition, 'cannot exec in a stopped state: conflict')).toBeInstanceOf(ConflictError)
  })
})

describe('error classes', () => {
  it.each(byErrorCode)('%s: code, name, default grpcCode', (code, cls, grpcCode) => {
    const err = new cls('boom')
    expect(err.code).toBe(code)
    expect(err.name).toBe(`${code}Error`)
    expect(err.grpcCode).toBe(grpcCode)
    expect(err.message).toBe('boom')
    expect(err.method).toBeUndefined()
    expect(err.cause).toBeUndefined()
    expect('cause' in err).toBe(false)
    expect(err.stack).toContain('boom')
  })

  it('grpcCode option overrides the default', () => {
    const err = new NotFoundError('x', { grpcCode: GrpcCode.Unknown })
    expect(err.grpcCode).toBe(GrpcCode.Unknown)
    expect(err.code).toBe('NotFound')
  })

  it('keeps cause and method', () => {
    const cause = new Error('socket hang up')
    const err = new UnavailableError('unreachable', { cause, method: '/a.B/C' })
    expect(err.cause).toBe(cause)
    expect(err.method).toBe('/a.B/C')
  })

  it('keeps non-Error causes, including falsy ones', () => {
    expect(new CanceledError('c', { cause: 'reason string' }).cause).toBe('reason string')
    expect(new CanceledError('c', { cause: 0 }).cause).toBe(0)
    expect(new CanceledError('c', { cause: null }).cause).toBeNull()
    const withFalse = new CanceledError('c', { cause: false })
    expect('cause' in withFalse).toBe(true)
    expect(withFalse.cause).toBe(false)
  })

  it('base class can be constructed directly', () => {
    const err = new ContainerdError('Conflict', 'raw', { method: 'm' })
    expect(err.code).toBe('Conflict')
    expect(err.name).toBe('ConflictError')
    expect(err.grpcCode).toBe(GrpcCode.FailedPrecondition)
    expect(err.method).toBe('m')
    // instanceof a subclass checks the code, so a base-constructed error matches its code's class.
    expect(err).toBeInstanceOf(ConflictError)
    expect(err).not.toBeInstanceOf(NotFoundError)
  })

  it('carries the Symbol.for brand as an own, non-enumerable symbol', () => {
    const err = new NotFoundError('x')
    expect(Object.getOwnPropertySymbols(err)).toContain(BRAND)
    const desc = Object.getOwnPropertyDescriptor(err, BRAND)
    expect(desc?.value).toBe(true)
    expect(desc?.enumerable).toBe(false)
    expect(Object.keys(err)).not.toContain(BRAND.toString())
  })
})

describe('instanceof', () => {
  it('each subclass matches only its own code', () => {
    for (const [code, cls] of byErrorCode) {
      const err = createError(code, 'x')
      for (const [otherCode, other] of byErrorCode) {
        expect(err instanceof other, `${code} instanceof ${otherCode}Error`).toBe(code === otherCode)
      }
      expect(err instanceof ContainerdError).toBe(true)
      expect(err instanceof Error).toBe(true)
      expect(err instanceof cls).toBe(true)
    }
  })

  it('rejects plain errors and non-objects', () => {
    const plain = Object.assign(new Error('x'), { code: 'NotFound' })
    expect(plain instanceof ContainerdError).toBe(false)
    expect(plain instanceof NotFoundError).toBe(false)
    for (const v of [null, undefined, 0, 'NotFound', true, Symbol('s')] as unknown[]) {
      expect(v instanceof ContainerdError).toBe(false)
      expect(v instanceof NotFoundError).toBe(false)
    }
  })

  it('rejects an object with a different (non-registered) symbol of the same description', () => {
    const fake = { code: 'NotFound', [Symbol('containerd-sdk.ContainerdError')]: true }
    expect(fake instanceof ContainerdError).toBe(false)
    expect(fake instanceof NotFoundError).toBe(false)
  })

  it('works for an error from a duplicate copy of the package (brand only, other prototype)', () => {
    // A second copy of the package would have its own classes; its errors share only the registered symbol.
    const original = new NotFoundError('not here', { method: '/x.Y/Z' })
    const symbols = Object.getOwnPropertySymbols(original)
    expect(symbols).toHaveLength(1)
    const sym = symbols[0]!
    expect(sym).toBe(BRAND)
    expect(Symbol.keyFor(sym)).toBe('containerd-sdk.ContainerdError')

    class ForeignError extends Error {
      readonly code = 'NotFound'
      readonly grpcCode = 5
    }
    const foreign = new ForeignError('from the other copy')
    Object.defineProperty(foreign, Symbol.for('containerd-sdk.ContainerdError'), { value: true })

    expect(Object.getPrototypeOf(foreign)).not.toBe(Object.getPrototypeOf(original))
    expect(foreign instanceof ContainerdError).toBe(true)
    expect(foreign instanceof NotFoundError).toBe(true)
    expect(foreign instanceof AlreadyExistsError).toBe(false)
    expect(isContainerdError(foreign)).toBe(true)
  })

  it('a branded plain object is matched by code', () => {
    const obj = { code: 'Conflict', [BRAND]: true }
    expect(obj instanceof ContainerdError).toBe(true)
    expect(obj instanceof ConflictError).toBe(true)
    expect(obj instanceof FailedPreconditionError).toBe(false)
  })

  it('an inherited brand (object created from an error prototype chain) also matches', () => {
    const proto = new UnavailableError('p')
    const child: unknown = Object.create(proto)
    expect(child instanceof UnavailableError).toBe(true)
    expect(child instanceof ContainerdError).toBe(true)
  })

  it('narrows in catch blocks', () => {
    let caught: unknown
    try {
      throw errorFromStatus(GrpcCode.NotFound, 'container "x": not found')
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(NotFoundError)
    if (caught instanceof NotFoundError) expect(caught.code).toBe('NotFound')
    else expect.unreachable('should be NotFoundError')
  })
})

describe('createError', () => {
  it.each(byErrorCode)('creates %s', (code, cls, grpcCode) => {
    const err = createError(code, `msg ${code}`)
    expect(err).toBeInstanceOf(cls)
    expect(Object.getPrototypeOf(err)).toBe(cls.prototype)
    expect(err.code).toBe(code)
    expect(err.grpcCode).toBe(grpcCode)
    expect(err.message).toBe(`msg ${code}`)
  })

  it('passes options through', () => {
    const cause = new Error('inner')
    const err = createError('DataLoss', 'digest mismatch', { cause, method: '/m', grpcCode: GrpcCode.Internal })
    expect(err).toBeInstanceOf(DataLossError)
    expect(err.cause).toBe(cause)
    expect(err.method).toBe('/m')
    expect(err.grpcCode).toBe(GrpcCode.Internal)
  })
})

describe('isContainerdError', () => {
  it('is true for every SDK error', () => {
    for (const [code] of byErrorCode) expect(isContainerdError(createError(code, 'x'))).toBe(true)
    expect(isContainerdError(new ContainerdError('Unknown', 'x'))).toBe(true)
  })

  it('is false for other values', () => {
    expect(isContainerdError(new Error('x'))).toBe(false)
    expect(isContainerdError(new TypeError('x'))).toBe(false)
    expect(isContainerdError({ code: 'NotFound', message: 'x' })).toBe(false)
    expect(isContainerdError(null)).toBe(false)
    expect(isContainerdError(undefined)).toBe(false)
    expect(isContainerdError('NotFoundError')).toBe(false)
  })
})
