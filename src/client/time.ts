import type { Timestamp } from '@bufbuild/protobuf/wkt'

/** Converts a protobuf Timestamp to a Date (millisecond precision; undefined stays undefined). */
export function toDate(ts: Timestamp | undefined): Date | undefined {
  if (ts === undefined) return undefined
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6))
}

/** Converts a Date to a protobuf Timestamp init. */
export function fromDate(date: Date): { seconds: bigint; nanos: number } {
  const ms = date.getTime()
  const seconds = Math.floor(ms / 1000)
  return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1e6 }
}
