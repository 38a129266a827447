import type { EventEmitter } from 'node:events'

/**
 * Resolves on `emitter`'s next `event`; rejects with `stop`'s reason once it aborts (at once when it
 * already has). Both listeners are removed whichever comes first. Unlike `events.once(…, { signal })`,
 * the rejection is the abort reason itself, so a caller's typed error comes through as it is.
 */
export function nextEventOrAbort(emitter: EventEmitter, event: string, stop: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (stop.aborted) {
      reject(stop.reason as Error)
      return
    }
    const onEvent = (): void => {
      stop.removeEventListener('abort', onAbort)
      resolve()
    }
    const onAbort = (): void => {
      emitter.off(event, onEvent)
      reject(stop.reason as Error)
    }
    emitter.once(event, onEvent)
    stop.addEventListener('abort', onAbort, { once: true })
  })
}
