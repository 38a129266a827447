import { createGunzip } from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import { extract } from 'tar-stream'
import type { ClientCore } from '../client/client.js'
import type { CallOptions } from '../grpc/call-options.js'
import type { ImageManifest } from '../image-spec/manifest.js'
import type { UserDatabase } from '../oci/user-database.js'

/**
 * The image's `/etc/passwd` and `/etc/group` (each left out when the image has none), to resolve user
 * and group names the way the container will see them.
 */
export async function readUserDatabase(client: ClientCore, manifest: ImageManifest, options: CallOptions = {}): Promise<UserDatabase> {
  const [passwd, group] = await Promise.all([
    readImageFile(client, manifest, '/etc/passwd', options),
    readImageFile(client, manifest, '/etc/group', options),
  ])
  return { ...(passwd !== undefined ? { passwd: passwd.toString('utf8') } : {}), ...(group !== undefined ? { group: group.toString('utf8') } : {}) }
}

// A file bigger than this is not a passwd or group file worth reading.
const MAX_FILE_BYTES = 1024 * 1024

/**
 * Reads one small file (e.g. `/etc/passwd`) out of an image's layers without mounting anything: layers
 * are searched from the top down, a whiteout (`.wh.<name>` or an opaque directory marker) hides the file
 * in lower layers. Returns undefined when no layer has it.
 */
export async function readImageFile(client: ClientCore, manifest: ImageManifest, path: string, options: CallOptions = {}): Promise<Buffer | undefined> {
  const wanted = path.replace(/^\/+/, '')
  const dir = wanted.includes('/') ? wanted.slice(0, wanted.lastIndexOf('/') + 1) : ''
  const base = wanted.slice(dir.length)
  for (const layer of [...manifest.layers].reverse()) {
    const found = await searchLayer(client, layer.digest, layer.mediaType, wanted, `${dir}.wh.${base}`, `${dir}.wh..wh..opq`, options)
    if (found === 'deleted') return undefined
    if (found !== undefined) return found
  }
  return undefined
}

async function searchLayer(
  client: ClientCore,
  digest: string,
  mediaType: string,
  wanted: string,
  whiteout: string,
  opaque: string,
  options: CallOptions,
): Promise<Buffer | 'deleted' | undefined> {
  const tar = extract()
  const source = client.content.read(digest, options)
  const done = mediaType.endsWith('gzip') ? pipeline(source, createGunzip(), tar) : pipeline(source, tar)
  done.catch(() => undefined) // observed through the iteration below
  let result: Buffer | 'deleted' | undefined
  try {
    for await (const entry of tar) {
      const name = entry.header.name.replace(/^\.\//, '').replace(/^\/+/, '')
      if (result === undefined && (name === whiteout || name === opaque)) result = 'deleted'
      if (name === wanted && entry.header.type === 'file' && (entry.header.size ?? 0) <= MAX_FILE_BYTES) {
        const chunks: Buffer[] = []
        for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk)
        result = Buffer.concat(chunks)
        break // the rest of the layer cannot change the answer
      } else {
        entry.resume()
      }
    }
  } finally {
    source.destroy()
  }
  return result
}
