import { constants } from 'node:os'
import { InvalidArgumentError } from '../grpc/errors.js'

/** A signal by number or name (`SIGTERM`, `TERM`, `9`). */
export type SignalInput = number | NodeJS.Signals | string

/** Resolves a signal name or number to its number on this platform. */
export function signalNumber(signal: SignalInput): number {
  if (typeof signal === 'number') {
    if (!Number.isInteger(signal) || signal < 1 || signal > 64) throw new InvalidArgumentError(`signal ${signal} is out of range (1–64)`)
    return signal
  }
  const text = signal.trim().toUpperCase()
  if (/^\d+$/.test(text)) return signalNumber(Number(text))
  const name = (text.startsWith('SIG') ? text : `SIG${text}`) as NodeJS.Signals
  const value = constants.signals[name]
  if (value === undefined) throw new InvalidArgumentError(`unknown signal "${signal}": use a name like SIGTERM or a number`)
  return value
}
