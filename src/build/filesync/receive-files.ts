/**
 * The receiving side of an fsutil transfer: what the `local` exporter sends back over FileSend. The daemon
 * lists its output (STATs), we ask for the regular files (REQ), write them under a target directory, and
 * finish with FIN.
 */

import { chmod, link, lstat, lutimes, mkdir, open, rm, symlink, utimes, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { CanceledError } from '../../grpc/errors.js'
import { AbortableReader } from './abortable-reader.js'
import { isDirGoMode, isRegularGoMode, isSymlinkGoMode, unixPermissions } from './file-mode.js'
import { FileSyncError, ioError } from './filesync-error.js'
import { compareBytes } from './follow-paths.js'
import { PacketType, type FsutilPacket, type FsutilStat, type PacketStream } from './fsutil-types.js'

/** What a finished download wrote. */
export interface ReceiveFilesResult {
  /** Entries listed by the sender. */
  entries: number
  /** Regular files written with contents (hard links not counted). */
  files: number
  /** File bytes written. */
  bytes: number
}

/** A regular file asked for and not finished yet. */
interface Pending {
  path: string
  hostPath: string
  stat: FsutilStat
  handle: FileHandle | undefined
  /** The last write queued for this file. */
  tail: Promise<void>
}

/** Writes queued behind the packet loop before it waits for the disk. */
const MAX_QUEUED_WRITES = 64
/** Bytes queued behind the packet loop before it waits for the disk: the bound on buffered data. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024

/**
 * Receives an fsutil listing into `target` (created if missing; what is there already is replaced entry by
 * entry, as the local exporter does). Nothing is written outside `target`: a path that is absolute, has
 * `.`/`..`/empty components or a NUL is refused, every parent of an entry must be a directory listed
 * before it (so a symlink from the listing, or one already in `target`, is never written through), and
 * entries must come in fsutil's order. Modes (permissions, setuid/setgid/sticky) and mtimes are applied;
 * ownership is not (the files belong to the caller). Devices, pipes and sockets are skipped.
 * @param signal aborts: the open file is closed and the call rejects with a CanceledError.
 * @throws FileSyncError `UnsafePath` or `Protocol` (after sending ERR) for a bad listing or an unknown DATA
 *   ID; `PeerError` when the sender sends ERR; `Protocol` when the stream ends before the transfer is done.
 */
export async function receiveFiles(target: string, io: PacketStream, signal?: AbortSignal): Promise<ReceiveFilesResult> {
  const targetIsNew = (await lstat(target).catch(() => undefined)) === undefined
  await mkdir(target, { recursive: true })
  const result: ReceiveFilesResult = { entries: 0, files: 0, bytes: 0 }
  /** Directories listed so far (and verified or made as real directories), by path; '' is the target. */
  const dirs = new Set<string>([''])
  /** Directories this call made: nothing can be in them yet, so their entries need no lstat first. */
  const fresh = new Set<string>(targetIsNew ? [''] : [])
  /** Disk writes queued behind the packet loop (each file's chained in order), and their bytes. */
  const writes = new Set<Promise<void>>()
  let queuedBytes = 0
  /** Resolves the packet loop's wait for the disk, when it waits. */
  let wakeLoop: (() => void) | undefined
  let writeError: { error: unknown } | undefined
  /** Every file open right now, closed in any case before this call settles. */
  const handles = new Set<FileHandle>()
  const kinds = new Map<string, 'file' | 'other'>()
  const pending = new Map<number, Pending>()
  const hardLinks: { path: string; to: string }[] = []
  /** Metadata applied at the end, deepest first, so writing inside a directory does not undo its mtime. */
  const finalize: FsutilStat[] = []
  let previous: string | undefined
  let listed = false
  let finSent = false

  // The reader rejects a waiting read when the caller aborts; a local controller, so that an already
  // aborted or missing signal needs no special case.
  const stop = new AbortController()
  const onAbort = (): void => stop.abort(new CanceledError('download aborted', { cause: signal?.reason }))
  if (signal?.aborted === true) onAbort()
  else signal?.addEventListener('abort', onAbort, { once: true })
  const reader = new AbortableReader(io.receive(), stop.signal)

  const hostOf = (path: string): string => join(target, ...path.split('/'))

  const onStat = async (stat: FsutilStat, id: number): Promise<void> => {
    const path = stat.path
    checkPath(path)
    if (previous !== undefined && !before(previous, path)) {
      throw new FileSyncError('Protocol', `changes out of order: ${JSON.stringify(path)} after ${JSON.stringify(previous)}`, { path })
    }
    previous = path
    const slash = path.lastIndexOf('/')
    const parent = slash < 0 ? '' : path.slice(0, slash)
    if (!dirs.has(parent)) throw new FileSyncError('UnsafePath', `${path}: its parent is not a directory of the listing`, { path })
    const hostPath = hostOf(path)
    const existing = fresh.has(parent) ? undefined : await lstat(hostPath).catch(() => undefined)
    if (isDirGoMode(stat.mode)) {
      if (existing === undefined || !existing.isDirectory()) {
        if (existing !== undefined) await rm(hostPath, { force: true, recursive: true })
        await mkdir(hostPath)
        fresh.add(path)
      }
      dirs.add(path)
      kinds.set(path, 'other')
      finalize.push(stat)
      return
    }
    if (existing !== undefined) await rm(hostPath, { force: true, recursive: true })
    if (isSymlinkGoMode(stat.mode)) {
      // The link is made as sent (it may point anywhere, like a tar entry); nothing is written through it,
      // since it is not in `dirs`.
      await symlink(stat.linkname, hostPath)
      kinds.set(path, 'other')
      finalize.push(stat)
      return
    }
    if (!isRegularGoMode(stat.mode)) {
      kinds.set(path, 'other')
      return
    }
    kinds.set(path, 'file')
    if (stat.linkname !== '') {
      checkPath(stat.linkname)
      if (kinds.get(stat.linkname) !== 'file') {
        throw new FileSyncError('UnsafePath', `${path}: hard link to ${stat.linkname}, not a file listed before it`, { path })
      }
      hardLinks.push({ path, to: stat.linkname })
      return
    }
    pending.set(id, { path, hostPath, stat, handle: undefined, tail: Promise.resolve() })
    await io.send({ type: PacketType.REQ, id })
  }

  /**
   * Queues a DATA packet's write behind the file's earlier ones, so the loop can read the next packet
   * while the disk works; the loop waits when more than MAX_QUEUED_WRITES or MAX_QUEUED_BYTES are queued.
   */
  const onData = async (id: number, data: Uint8Array | undefined): Promise<void> => {
    const file = pending.get(id)
    if (file === undefined) throw new FileSyncError('Protocol', `invalid file request ${id}`)
    const size = data?.length ?? 0
    if (size === 0) pending.delete(id)
    queuedBytes += size
    const op = file.tail.then(async () => {
      if (writeError !== undefined) return
      // Created exclusively: if something appeared at the path since the STAT, we do not write through it.
      if (file.handle === undefined) {
        file.handle = await open(file.hostPath, 'wx', 0o600)
        handles.add(file.handle)
      }
      if (data !== undefined && size > 0) {
        await file.handle.write(data)
        result.bytes += size
        return
      }
      // Mode and mtime set on the open file: no second lookup of the path, and close does not touch them.
      const seconds = Number(file.stat.modTime) / 1e9
      await file.handle.chmod(unixPermissions(file.stat.mode))
      await file.handle.utimes(seconds, seconds)
      handles.delete(file.handle)
      await file.handle.close()
      file.handle = undefined
      result.files++
    })
    file.tail = op
    const tracked = op
      .catch((error: unknown) => {
        writeError ??= { error: ioError(error, 'writing', file.hostPath) }
      })
      .finally(() => {
        queuedBytes -= size
        writes.delete(tracked)
        const wake = wakeLoop
        wakeLoop = undefined
        wake?.()
      })
    writes.add(tracked)
    // One waiter woken by the next finished write (a Promise.race over the queue would attach a reaction
    // to every queued write on every packet).
    while (writes.size > MAX_QUEUED_WRITES || queuedBytes > MAX_QUEUED_BYTES) {
      await new Promise<void>((resolve) => {
        wakeLoop = resolve
      })
    }
    if (writeError !== undefined) throw writeError.error
  }

  const finish = async (): Promise<void> => {
    await Promise.all(writes)
    if (writeError !== undefined) throw writeError.error
    for (const { path, to } of hardLinks) await link(hostOf(to), hostOf(path))
    for (const stat of finalize.reverse()) {
      const hostPath = hostOf(stat.path)
      const seconds = Number(stat.modTime) / 1e9
      if (isSymlinkGoMode(stat.mode)) {
        await lutimes(hostPath, seconds, seconds)
        continue
      }
      await chmod(hostPath, unixPermissions(stat.mode))
      await utimes(hostPath, seconds, seconds)
    }
    finSent = true
    await io.send({ type: PacketType.FIN })
  }

  try {
    let id = 0
    for (;;) {
      const next = await reader.next()
      if (next.done === true) {
        if (finSent) return result
        throw new FileSyncError('Protocol', 'the sender ended the stream before the transfer was complete')
      }
      const packet: FsutilPacket = next.value
      switch (packet.type) {
        case PacketType.STAT:
          if (listed) throw new FileSyncError('Protocol', 'STAT after the end of the listing')
          if (packet.stat === undefined) {
            listed = true
            result.entries = id
          } else {
            const { path } = packet.stat
            await onStat(packet.stat, id).catch((err: unknown) => Promise.reject(ioError(err, 'writing', path)))
            id++
          }
          break
        case PacketType.DATA:
          await onData(packet.id ?? 0, packet.data)
          break
        case PacketType.ERR: {
          const text = new TextDecoder().decode(packet.data ?? new Uint8Array())
          throw new FileSyncError('PeerError', `error from sender: ${text}`)
        }
        case PacketType.FIN:
          if (finSent) return result
          throw new FileSyncError('Protocol', 'FIN from the sender before the transfer was complete')
        default:
          throw new FileSyncError('Protocol', `unexpected packet type ${packet.type as number}`)
      }
      if (listed && pending.size === 0 && !finSent) await finish().catch((err: unknown) => Promise.reject(ioError(err, 'finishing', target)))
    }
  } catch (err) {
    const tellPeer = !(err instanceof CanceledError) && !(err instanceof FileSyncError && err.reason === 'PeerError')
    if (tellPeer && !finSent) {
      const text = err instanceof Error ? err.message : String(err)
      await io.send({ type: PacketType.ERR, data: new TextEncoder().encode(text) }).catch(() => undefined)
    }
    throw err
  } finally {
    writeError ??= { error: new Error('transfer stopped') }
    await Promise.allSettled([...writes])
    for (const handle of handles) await handle.close().catch(() => undefined)
    signal?.removeEventListener('abort', onAbort)
    reader.close()
  }
}

/** Refuses a path that could leave the target: absolute, `.`/`..`/empty components, NUL. */
function checkPath(path: string): void {
  const unsafe = path === '' || path.startsWith('/') || path.includes('\0') || path.split('/').some((c) => c === '' || c === '.' || c === '..')
  if (unsafe) throw new FileSyncError('UnsafePath', `unsafe path in the listing: ${JSON.stringify(path)}`, { path })
}

/** Whether `a` comes before `b` in fsutil's walk order (component by component, each by UTF-8 bytes). */
function before(a: string, b: string): boolean {
  const x = a.split('/')
  const y = b.split('/')
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = compareBytes(x[i] as string, y[i] as string)
    if (c !== 0) return c < 0
  }
  return x.length < y.length
}
