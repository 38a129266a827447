/**
 * Reading image JSON documents (manifests, indexes, configs) out of bytes, and the structural check a
 * reader needs before it trusts a config it did not fetch by a manifest it already checked.
 */

import { DataLossError } from '../grpc/errors.js'
import type { ImageConfig } from './image-config.js'

/**
 * Parses JSON bytes as a manifest, index or config. Only the syntax is checked: the caller names the
 * type it expects (content fetched by digest from a trusted manifest), or checks the shape itself
 * (see {@link isImageConfig}).
 * @throws DataLossError naming what failed to parse.
 */
export function parseJson<T>(bytes: Uint8Array, what: string): T {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T
  } catch (err) {
    throw new DataLossError(`${what} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * True when a parsed JSON value has what every reader of an image config relies on: string `os` and
 * `architecture`, and `rootfs.diff_ids` as a list of strings. An artifact's config (`{}`, or some other
 * document behind a manifest) fails it. The runtime defaults (`config`) are not checked: they are
 * optional, and readers treat each of their members as optional.
 */
export function isImageConfig(value: unknown): value is ImageConfig {
  if (!isObject(value) || typeof value['os'] !== 'string' || typeof value['architecture'] !== 'string') return false
  const rootfs = value['rootfs']
  return isObject(rootfs) && Array.isArray(rootfs['diff_ids']) && rootfs['diff_ids'].every((d) => typeof d === 'string')
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
