import type { Readable } from 'node:stream'
import { extract, type Header } from 'tar-stream'
import { ArchiveError } from './archive-error.js'
import { normalizeEntryPath } from './entry-path.js'

// An entry as tar-stream's extractor yields it: its header and its bytes.
type Entry = AsyncIterable<unknown> & { header: Header }

/** A regular file or symbolic link of an image archive, with a checked, normalized path. */
export type ArchiveEntry =
  | {
      kind: 'file'
      /** Normalized relative path. */
      path: string
      /** Length in bytes, from the tar header. */
      size: number
      /** The file's bytes; must be read to the end (or abandoned by ending the iteration) before the next entry. */
      body: AsyncIterable<Uint8Array>
    }
  | {
      kind: 'symlink'
      /** Normalized relative path. */
      path: string
      /** The link target exactly as stored (relative to the link's directory). */
      target: string
    }

/**
 * Reads a tar as a stream and yields its files and symbolic links, enforcing the rules every image
 * archive meets: relative paths without `..` ({@link normalizeEntryPath}), only regular files,
 * directories and symbolic links (directories are checked and skipped; hard links, devices and FIFOs
 * are refused), and no path twice — a second copy would make "which bytes count" depend on the reader.
 * A tar that ends inside an entry or a header, or a gzip stream that ends early, fails with `Truncated`.
 *
 * The caller reads each file's body before asking for the next entry (the tar is one stream); whatever
 * it leaves unread is skipped.
 * @throws ArchiveError `UnsafePath`, `UnsupportedEntry`, `DuplicateEntry`, `Truncated`, `Malformed`.
 */
export async function* tarEntries(input: Readable): AsyncGenerator<ArchiveEntry> {
  const tar = extract()
  input.on('error', (err: Error) => tar.destroy(err))
  input.pipe(tar as unknown as NodeJS.WritableStream)
  const files = new Set<string>()
  const directories = new Set<string>()
  try {
    for await (const entry of tar as AsyncIterable<Entry>) {
      const { header } = entry
      // tar-stream applies pax and GNU long-name headers itself; an unknown type flag comes as null.
      const type: string = header.type ?? 'unknown'
      const path = normalizeEntryPath(header.name)
      if (type === 'directory') {
        if (files.has(path)) throw duplicate(path)
        directories.add(path)
        await drain(entry)
        continue
      }
      if (type !== 'file' && type !== 'contiguous-file' && type !== 'symlink') {
        throw new ArchiveError('UnsupportedEntry', `archive entry ${JSON.stringify(path)} is a ${type}; image archives hold only files, directories and symbolic links`, { path })
      }
      if (files.has(path) || directories.has(path)) throw duplicate(path)
      files.add(path)
      if (type === 'symlink') {
        await drain(entry)
        yield { kind: 'symlink', path, target: header.linkname ?? '' }
        continue
      }
      const body = new EntryBody(entry)
      yield { kind: 'file', path, size: header.size ?? 0, body }
      // Skips what the consumer left unread (all of it, if it never started), so the extractor moves
      // on to the next header.
      await body.drain()
    }
  } catch (err) {
    throw tarError(err)
  } finally {
    input.unpipe(tar as unknown as NodeJS.WritableStream)
    if (!input.readableEnded) input.destroy()
    tar.destroy()
  }
}

function duplicate(path: string): ArchiveError {
  return new ArchiveError('DuplicateEntry', `archive entry ${JSON.stringify(path)} appears more than once`, { path })
}

async function drain(entry: Entry): Promise<void> {
  for await (const _ of entry as AsyncIterable<Uint8Array>) {
    // discard
  }
}

/**
 * An entry's bytes, with typed errors. A consumer that stops early (a `break`, a failed write) does not
 * end the entry stream: in tar-stream that would destroy the whole extractor; the rest is drained
 * instead.
 */
class EntryBody implements AsyncIterable<Uint8Array> {
  private readonly it: AsyncIterator<Uint8Array>
  private finished = false

  constructor(entry: Entry) {
    this.it = (entry as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => this.next(),
      return: async () => ({ done: true, value: undefined }),
    }
  }

  async drain(): Promise<void> {
    while (!this.finished) await this.next()
  }

  private async next(): Promise<IteratorResult<Uint8Array>> {
    if (this.finished) return { done: true, value: undefined }
    try {
      const result = await this.it.next()
      if (result.done === true) this.finished = true
      return result
    } catch (err) {
      this.finished = true
      throw tarError(err)
    }
  }
}

/**
 * Turns tar-stream's and zlib's plain errors into typed ones: a stream that ends early is `Truncated`,
 * bytes that are not a tar header (or not gzip data) are `Malformed`. Other errors pass unchanged.
 */
export function tarError(err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof ArchiveError) return err
  const code = (err as { code?: unknown }).code
  if (err.message === 'Unexpected end of data' || code === 'Z_BUF_ERROR' || err.message === 'unexpected end of file') {
    return new ArchiveError('Truncated', 'the archive ends in the middle of an entry: it is truncated', { cause: err })
  }
  if (/^Invalid (tar )?header|^Header exceeds max size/.test(err.message) || code === 'Z_DATA_ERROR') {
    return new ArchiveError('Malformed', `the archive is not a valid tar: ${err.message}`, { cause: err })
  }
  return err
}
