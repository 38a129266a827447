/**
 * The receiving side of an fsutil transfer: what the `local` exporter sends back over FileSend. The daemon
 * lists its output (STATs), we ask for the regular files (REQ), write them under a target directory, and
 * finish with FIN.
 */

import { chmod, link, lstat, lutimes, mkdir, open, rm, symlink, utimes, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { CanceledError } from '../../grpc/errors.js'
import { isDirGoMode, isRegularGoMode, isSymlinkGoMode, unixPermissions } from './file-mode.js'
import { FileSyncError } from './filesync-error.js'
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
}

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
  await mkdir(target, { recursive: true })
  const result: ReceiveFilesResult = { entries: 0, files: 0, bytes: 0 }
  /** Directories listed so far (and verified or made as real directories), by path; '' is the target. */
  const dirs = new Set<string>([''])
  const kinds = new Map<string, 'file' | 'other'>()
  const pending = new Map<number, Pending>()
  const hardLinks: { path: string; to: string }[] = []
  /** Metadata applied at the end, deepest first, so writing inside a directory does not undo its mtime. */
  const finalize: FsutilStat[] = []
  let previous: string | undefined
  let listed = false
  let finSent = false

  const iterator = io.receive()[Symbol.asyncIterator]()
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = (): void => reject(new CanceledError('download aborted', { cause: signal?.reason }))
    if (signal?.aborted === true) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
  aborted.catch(() => undefined)

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
    const existing = await lstat(hostPath).catch(() => undefined)
    if (isDirGoMode(stat.mode)) {
      if (existing === undefined || !existing.isDirectory()) {
        if (existing !== undefined) await rm(hostPath, { force: true, recursive: true })
        await mkdir(hostPath)
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
    pending.set(id, { path, hostPath, stat, handle: undefined })
    finalize.push(stat)
    await io.send({ type: PacketType.REQ, id })
  }

  const onData = async (id: number, data: Uint8Array | undefined): Promise<void> => {
    const file = pending.get(id)
    if (file === undefined) throw new FileSyncError('Protocol', `invalid file request ${id}`)
    // Created exclusively: if something appeared at the path since the STAT, we do not write through it.
    file.handle ??= await open(file.hostPath, 'wx', 0o600)
    if (data !== undefined && data.length > 0) {
      await file.handle.write(data)
      result.bytes += data.length
      return
    }
    await file.handle.close()
    file.handle = undefined
    pending.delete(id)
    result.files++
  }

  const finish = async (): Promise<void> => {
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
      const next = await Promise.race([iterator.next(), aborted])
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
            await onStat(packet.stat, id)
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
      if (listed && pending.size === 0 && !finSent) await finish()
    }
  } catch (err) {
    const tellPeer = !(err instanceof CanceledError) && !(err instanceof FileSyncError && err.reason === 'PeerError')
    if (tellPeer && !finSent) {
      const text = err instanceof Error ? err.message : String(err)
      await io.send({ type: PacketType.ERR, data: new TextEncoder().encode(text) }).catch(() => undefined)
    }
    throw err
  } finally {
    for (const file of pending.values()) await file.handle?.close().catch(() => undefined)
    void iterator.return?.().catch(() => undefined)
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
