import { create } from '@bufbuild/protobuf'
import { TimestampSchema, timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt'
import { describe, it, expect } from 'vitest'
import { fromDate, toDate } from '../../../src/client/time.js'

describe('toDate', () => {
  it('returns undefined for undefined', () => {
    expect(toDate(undefined)).toBeUndefined()
  })

  it('converts seconds and nanos to a Date', () => {
    const ts = create(TimestampSchema, { seconds: 1_700_000_000n, nanos: 123_000_000 })
    expect(toDate(ts)?.getTime()).toBe(1_700_000_000_123)
    expect(toDate(ts)?.toISOString()).toBe('2023-11-14T22:13:20.123Z')
  })

  it('truncates sub-millisecond nanos', () => {
    expect(toDate(create(TimestampSchema, { seconds: 1n, nanos: 999_999_999 }))?.getTime()).toBe(1999)
    expect(toDate(create(TimestampSchema, { seconds: 1n, nanos: 999_999 }))?.getTime()).toBe(1000)
    expect(toDate(create(TimestampSchema, { seconds: 1n, nanos: 1_000_000 }))?.getTime()).toBe(1001)
  })

  it('converts the epoch and a zero Timestamp', () => {
    expect(toDate(create(TimestampSchema))?.getTime()).toBe(0)
  })

  it('handles times before the epoch (negative seconds, positive nanos)', () => {
    // -0.5 s is seconds=-1, nanos=500_000_000 in protobuf's normalized form.
    expect(toDate(create(TimestampSchema, { seconds: -1n, nanos: 500_000_000 }))?.getTime()).toBe(-500)
  })

  it('agrees with @bufbuild/protobuf timestampDate for whole milliseconds', () => {
    for (const [seconds, nanos] of [[0n, 0], [1_234_567_890n, 987_000_000], [-86_400n, 1_000_000], [-1n, 999_000_000]] as const) {
      const ts = create(TimestampSchema, { seconds, nanos })
      expect(toDate(ts)?.getTime()).toBe(timestampDate(ts).getTime())
    }
  })

  it('truncates where timestampDate rounds (documented millisecond precision)', () => {
    const ts = create(TimestampSchema, { seconds: 1_234_567_890n, nanos: 987_654_321 })
    expect(toDate(ts)?.getTime()).toBe(1_234_567_890_987)
    expect(timestampDate(ts).getTime()).toBe(1_234_567_890_988)
  })
})

describe('fromDate', () => {
  it('splits milliseconds into seconds and nanos', () => {
    expect(fromDate(new Date(1_700_000_000_123))).toEqual({ seconds: 1_700_000_000n, nanos: 123_000_000 })
    expect(fromDate(new Date(0))).toEqual({ seconds: 0n, nanos: 0 })
    expect(fromDate(new Date(999))).toEqual({ seconds: 0n, nanos: 999_000_000 })
  })

  it('normalizes dates before the epoch to non-negative nanos', () => {
    expect(fromDate(new Date(-1))).toEqual({ seconds: -1n, nanos: 999_000_000 })
    expect(fromDate(new Date(-1000))).toEqual({ seconds: -1n, nanos: 0 })
    expect(fromDate(new Date(-1500))).toEqual({ seconds: -2n, nanos: 500_000_000 })
  })

  it('matches @bufbuild/protobuf timestampFromDate', () => {
    for (const ms of [0, 1, 999, 1000, 1_700_000_000_123, -1, -1500, 253_402_300_799_999]) {
      const ours = fromDate(new Date(ms))
      const theirs = timestampFromDate(new Date(ms))
      expect(ours).toEqual({ seconds: theirs.seconds, nanos: theirs.nanos })
    }
  })

  it('produces a valid Timestamp init', () => {
    const ts = create(TimestampSchema, fromDate(new Date('2024-02-29T12:34:56.789Z')))
    expect(ts.seconds).toBe(1_709_210_096n)
    expect(ts.nanos).toBe(789_000_000)
  })
})

describe('round trip', () => {
  it.each([0, 1, 999, 1000, 1001, 1_700_000_000_123, -1, -999, -1000, -1001, -62_135_596_800_000, 253_402_300_799_999])(
    'toDate(fromDate(%i)) is the same instant',
    (ms) => {
      const date = new Date(ms)
      const back = toDate(create(TimestampSchema, fromDate(date)))
      expect(back).toBeInstanceOf(Date)
      expect(back?.getTime()).toBe(ms)
    },
  )

  it('round-trips the current time', () => {
    const now = new Date()
    expect(toDate(create(TimestampSchema, fromDate(now)))).toEqual(now)
  })
})
