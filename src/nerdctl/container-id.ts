/**
 * Container ids in the form nerdctl and Docker use: 64 lowercase hex characters (32 random bytes), shown
 * shortened to their first 12 characters.
 */

import { randomBytes } from 'node:crypto'

/** Length of a full container id. */
export const CONTAINER_ID_LENGTH = 64

/** Length of the short id `ps` shows and the default hostname uses. */
export const SHORT_ID_LENGTH = 12

const FULL_ID = /^[0-9a-f]{64}$/

/** A new random container id: 64 lowercase hex characters, like nerdctl's `idgen.GenerateID`. */
export function generateContainerId(): string {
  return randomBytes(CONTAINER_ID_LENGTH / 2).toString('hex')
}

/** Whether `value` is a full nerdctl/Docker-style id (64 lowercase hex characters). */
export function isContainerId(value: string): boolean {
  return FULL_ID.test(value)
}

/** The first 12 characters of an id (the whole id when shorter), as `ps` prints it. */
export function shortContainerId(id: string): string {
  return id.length <= SHORT_ID_LENGTH ? id : id.slice(0, SHORT_ID_LENGTH)
}
