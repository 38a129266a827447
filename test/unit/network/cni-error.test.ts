import { describe, expect, it } from 'vitest'
import { ContainerdError, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnknownError } from '../../../src/grpc/errors.js'
import { CniError, errorCodeOfCniCode, pluginFailure } from '../../../src/network/cni/cni-error.js'

const run = { plugin: 'bridge', command: 'ADD' as const, network: 'net1' }

describe('pluginFailure', () => {
  it("reads the spec's error result on stdout, and names the plugin, the command and the msg", () => {
    const err = pluginFailure(run, '{"cniVersion":"1.0.0","code":7,"msg":"invalid config","details":"no bridge name"}', 'ignored', { code: 1, signal: null })
    expect(err).toBeInstanceOf(CniError)
    expect(err).toBeInstanceOf(ContainerdError)
    expect(err).toBeInstanceOf(InvalidArgumentError)
    expect(err.message).toBe('CNI plugin bridge failed ADD on network net1: invalid config (no bridge name) [CNI error code 7]')
    expect(err).toMatchObject({ plugin: 'bridge', command: 'ADD', network: 'net1', cniCode: 7, msg: 'invalid config', details: 'no bridge name', name: 'CniError' })
  })

  it('quotes stderr when stdout has no error result', () => {
    const err = pluginFailure(run, '', 'panic: runtime error\n', { code: 2, signal: null })
    expect(err.message).toBe('CNI plugin bridge failed ADD on network net1: panic: runtime error')
    expect(err.cniCode).toBeUndefined()
    expect(err.msg).toBeUndefined()
    expect(err).toBeInstanceOf(UnknownError)
  })

  it('says how the plugin ended when it printed nothing, and bounds a long stderr', () => {
    expect(pluginFailure(run, '', '', { code: null, signal: 'SIGSEGV' }).message).toBe('CNI plugin bridge failed ADD on network net1: it was killed by SIGSEGV without a message')
    expect(pluginFailure({ plugin: 'p', command: 'VERSION' }, '', '', { code: 3, signal: null }).message).toBe('CNI plugin p failed VERSION: it exited with status 3 without a message')
    const long = pluginFailure(run, '', 'x'.repeat(10_000), { code: 1, signal: null })
    expect(long.message.length).toBeLessThan(2200)
  })
})

describe('CniError', () => {
  it('maps CNI codes to errdefs classes', () => {
    expect(errorCodeOfCniCode(1)).toBe('FailedPrecondition')
    expect(errorCodeOfCniCode(3)).toBe('NotFound')
    expect(errorCodeOfCniCode(7)).toBe('InvalidArgument')
    expect(errorCodeOfCniCode(11)).toBe('Unavailable')
    expect(errorCodeOfCniCode(999)).toBe('Unknown')
    expect(errorCodeOfCniCode(undefined)).toBe('Unknown')
  })

  it('is recognised by its brand, and by the class of its code', () => {
    const err = new CniError('FailedPrecondition', 'missing', { plugin: 'x' })
    expect(err).toBeInstanceOf(FailedPreconditionError)
    expect(err).not.toBeInstanceOf(NotFoundError)
    expect(new FailedPreconditionError('other')).not.toBeInstanceOf(CniError)
  })
})
