import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { parseByteSize } from '../../../src/oci/byte-size.js'
import { RLIMIT_INFINITY } from '../../../src/oci/runtime-spec.js'
import { parseUlimit } from '../../../src/oci/ulimit.js'

describe('parseByteSize (Docker RAMInBytes)', () => {
  it.each([
    ['32', 32],
    ['32b', 32],
    ['32B', 32],
    ['32k', 32 * 1024],
    ['32K', 32 * 1024],
    ['32kb', 32 * 1024],
    ['32KiB', 32 * 1024],
    ['512m', 512 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1 GB', 1024 ** 3],
    ['2t', 2 * 1024 ** 4],
    ['1p', 1024 ** 5],
    ['1.5k', 1536],
    ['0.5g', 512 * 1024 ** 2],
    ['  64m ', 64 * 1024 ** 2],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseByteSize(text, '--memory')).toBe(bytes)
  })

  it('takes numbers as bytes', () => {
    expect(parseByteSize(4096, '--memory')).toBe(4096)
  })

  it.each(['', 'm', '-1', '12x', '1.2.3g', '1gg', 'one', '1e3'])('rejects %j naming the flag and the fix', (text) => {
    expect(() => parseByteSize(text, '--memory')).toThrow(InvalidArgumentError)
    expect(() => parseByteSize(text, '--memory')).toThrow(/--memory: invalid size .*e\.g\. "512m"/)
  })

  it('rejects negative, fractional and unsafe numbers', () => {
    expect(() => parseByteSize(-1, '--shm-size')).toThrow(/--shm-size/)
    expect(() => parseByteSize(1.5, '--shm-size')).toThrow(InvalidArgumentError)
    expect(() => parseByteSize('99999999999p', '--memory')).toThrow(/too large/)
  })
})

describe('parseUlimit (Docker ParseUlimit)', () => {
  it('parses soft:hard', () => {
    expect(parseUlimit('nofile=1024:2048')).toEqual({ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 })
  })

  it('uses the soft limit as hard when there is one value', () => {
    expect(parseUlimit('nproc=512')).toEqual({ type: 'RLIMIT_NPROC', soft: 512, hard: 512 })
  })

  it('reads -1 and infinity as unlimited', () => {
    expect(parseUlimit('memlock=-1:-1')).toEqual({ type: 'RLIMIT_MEMLOCK', soft: RLIMIT_INFINITY, hard: RLIMIT_INFINITY })
    expect(parseUlimit('core=0:infinity')).toEqual({ type: 'RLIMIT_CORE', soft: 0, hard: RLIMIT_INFINITY })
  })

  it.each([
    ['nofile', /not name=soft\[:hard\]/],
    ['as=1', /unknown limit "as"/],
    ['NOFILE=1', /unknown limit "NOFILE"/],
    ['nofile=1:2:3', /more than two limits/],
    ['nofile=abc', /"abc" .* is not an integer/],
    ['nofile=2048:1024', /soft limit 2048 above hard limit 1024/],
    ['nofile=-1:1024', /unlimited soft limit above the hard limit/],
    ['nofile=-5', /negative/],
  ])('rejects %s', (text, message) => {
    expect(() => parseUlimit(text)).toThrow(InvalidArgumentError)
    expect(() => parseUlimit(text)).toThrow(message)
  })
})
