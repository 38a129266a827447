/**
 * `moby.filesync.v1.FileSync/DiffCopy`: the daemon reads a local directory (the build context, the
 * Dockerfile's directory, a named context). Which one is the call's `dir-name`; filters come in the
 * metadata too. Each call is independent (the Dockerfile frontend makes several per local), so nothing
 * is kept between calls.
 */

import { NotFoundError } from '../../grpc/errors.js'
import { FileSync } from '../../gen/moby/buildkit/session/filesync/filesync_pb.js'
import { parseDiffCopyMetadata } from '../filesync/diffcopy-request.js'
import type { FsutilPacket, PacketStream } from '../filesync/fsutil-types.js'
import { sendContext, type SendContextOptions } from '../filesync/send-context.js'
import type { MethodHandler } from './grpc-handler.js'
import { packetFromProto, packetToProto } from './packet-mapping.js'
import { bidiHandler, methodPath } from './proto-handler.js'

/** One local directory the daemon may read. */
export interface LocalDir {
  /** The directory on this machine. */
  dir: string
  /**
   * The client's own exclude patterns (a `.dockerignore` read by the caller). When given they win over
   * the daemon's `exclude-patterns`, unless the daemon sends `override-excludes: true` (BuildKit's rule).
   */
  excludePatterns?: readonly string[]
  /** Transfer tuning (chunk size, concurrency). */
  transfer?: Pick<SendContextOptions, 'chunkSize' | 'concurrency'>
}

/** Local directories by the name the build refers to them (`context`, `dockerfile`, …). */
export type LocalDirs = ReadonlyMap<string, LocalDir>

/** The FileSync service's handlers, by method path (only DiffCopy; TarStream is not used by BuildKit). */
export function fileSyncMethods(locals: LocalDirs): [string, MethodHandler][] {
  const diffCopy = bidiHandler(FileSync.method.diffCopy, async (requests, send, call) => {
    const request = parseDiffCopyMetadata(call.metadata)
    const local = request.dirName === undefined ? undefined : locals.get(request.dirName)
    if (local === undefined) {
      throw new NotFoundError(`no local directory named ${JSON.stringify(request.dirName ?? '')} in this session`)
    }
    const options: SendContextOptions = { ...local.transfer, ...request.walk }
    if (local.excludePatterns !== undefined && !request.overrideExcludes) options.excludePatterns = local.excludePatterns
    const io: PacketStream = {
      send: (packet: FsutilPacket) => send(packetToProto(packet)),
      async *receive() {
        for await (const packet of requests) yield packetFromProto(packet)
      },
    }
    await sendContext(local.dir, options, io, call.signal)
  })
  return [[methodPath(FileSync.method.diffCopy), diffCopy]]
}
