/**
 * `moby.filesync.v1.FileSend/DiffCopy`: the daemon hands an exporter's output back to the client. The
 * daemon is the caller; one call per export (the `local` exporter makes one per platform when it splits
 * platforms into subdirectories, possibly at the same time).
 *
 * Which export a call belongs to: BuildKit v0.13+ sends `buildkit-attachable-exporter-id`, the exporter's
 * index in `SolveRequest.Exporters` as a decimal string. Older daemons (v0.8, in dockerd 20.10) send no id
 * and allow one exporter only: that call is for target `'0'`, as BuildKit's own client assumes.
 *
 * What the messages are depends on the exporter, not on the method's declared type:
 * - `tar`, `oci`, `docker`: `BytesMessage{data}` chunks of the archive (up to 3 MiB each); the daemon
 *   half-closes when done and waits for our status before it calls the export finished.
 * - `local`: each gRPC message is an encoded `fsutil.types.Packet` itself (BuildKit runs fsutil's sender on
 *   the stream directly; no BytesMessage around it), the same protocol as FileSync in the other direction.
 */

import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { CanceledError, NotFoundError } from '../../grpc/errors.js'
import { BytesMessageSchema, FileSend } from '../../gen/moby/buildkit/session/filesync/filesync_pb.js'
import { PacketSchema, type Packet } from '../../gen/moby/fsutil/types/wire_pb.js'
import { AbortableReader } from '../filesync/abortable-reader.js'
import { FileSyncError, ioError } from '../filesync/filesync-error.js'
import type { FsutilPacket, PacketStream } from '../filesync/fsutil-types.js'
import { receiveFiles } from '../filesync/receive-files.js'
import type { BidiHandler, MethodHandler, ServerCall, ServerMetadata } from './grpc-handler.js'
import { packetFromProto, packetToProto } from './packet-mapping.js'
import { methodPath } from './proto-handler.js'
import { nextEventOrAbort } from '../../util/event-or-abort.js'

/** The metadata key naming the exporter a FileSend call is for (BuildKit v0.13+). */
const EXPORTER_ID_KEY = 'buildkit-attachable-exporter-id'
/** The prefix of the exporter's own metadata (`oci`/`docker` pass their response, e.g. `containerimage.digest`). */
const EXPORTER_MD_PREFIX = 'exporter-md-'

/**
 * What the exporter told about its output: the `exporter-md-<key>` metadata of the call, prefix removed,
 * repeated values joined with "," (BuildKit's own client does the same). Keys are lower-case (gRPC
 * metadata). Empty for the `tar` exporter; the `oci` and `docker` exporters send their response
 * (`containerimage.digest`, `image.name`, …).
 */
export type ExportMetadata = Readonly<Record<string, string>>

/** An archive exporter's (`tar`, `oci`, `docker`) output, written to a stream the caller opens. */
export interface ExportStreamTarget {
  /** Discriminant. */
  kind: 'stream'
  /**
   * Opens the sink once the daemon starts sending. The archive's bytes are written with back-pressure;
   * at the end the sink is ended and the call waits until it has finished (flushed), so its errors reach
   * the daemon and fail the build. When the transfer fails or is canceled the sink is destroyed with the
   * error. A listener for 'error' stays attached to the sink (a late error does not crash the process).
   */
  open: (metadata: ExportMetadata) => Writable | Promise<Writable>
}

/** The `local` exporter's output, received into a directory. */
export interface ExportDirectoryTarget {
  /** Discriminant. */
  kind: 'directory'
  /**
   * The directory (created if missing). Entries the export lists replace what is there; other files are
   * left alone (BuildKit's merge mode). Ownership is not applied: the files belong to this process.
   */
  dir: string
}

/** Where one exporter's output goes. */
export type ExportTarget = ExportStreamTarget | ExportDirectoryTarget

/**
 * Export targets by exporter id: the exporter's index in `SolveRequest.Exporters` as a string (`'0'`,
 * `'1'`, …). With a daemon older than BuildKit v0.13 only `'0'` is used.
 */
export type ExportTargets = ReadonlyMap<string, ExportTarget>

/**
 * The FileSend service's handlers, by method path (only DiffCopy).
 * A call for an id without a target fails with NotFound; a sink that fails (on open, write or finish)
 * fails the call with a `FileSyncError` (`Io`) the daemon reports as the build's error; a transfer the
 * daemon cancels destroys the sink with a `CanceledError`.
 */
export function fileSendMethods(targets: ExportTargets): [string, MethodHandler][] {
  const diffCopy: BidiHandler = {
    kind: 'bidi',
    async handle(requests, send, call) {
      const id = exporterIdOf(call.metadata)
      const target = targets.get(id)
      if (target === undefined) throw new NotFoundError(`no export target for exporter ${JSON.stringify(id)} in this session`)
      if (target.kind === 'directory') {
        await receiveFiles(target.dir, packetStreamOf(requests, send), call.signal)
        return
      }
      await writeToStream(id, target, requests, call)
    },
  }
  return [[methodPath(FileSend.method.diffCopy), diffCopy]]
}

/** The call's exporter id; `'0'` when the daemon sends none (BuildKit before v0.13). */
export function exporterIdOf(metadata: ServerMetadata): string {
  const value = metadata[EXPORTER_ID_KEY]?.[0]?.trim()
  return value === undefined || value === '' ? '0' : value
}

/** The `exporter-md-*` metadata of a call, prefix removed. */
export function exportMetadataOf(metadata: ServerMetadata): ExportMetadata {
  const out: Record<string, string> = {}
  for (const [key, values] of Object.entries(metadata)) {
    if (key.startsWith(EXPORTER_MD_PREFIX) && key.length > EXPORTER_MD_PREFIX.length) out[key.slice(EXPORTER_MD_PREFIX.length)] = values.join(',')
  }
  return out
}

/** A `local` export's raw messages as the packet stream receiveFiles works on. */
function packetStreamOf(requests: AsyncIterable<Uint8Array>, send: (message: Uint8Array) => Promise<void>): PacketStream {
  return {
    send: (packet: FsutilPacket) => send(toBinary(PacketSchema, create(PacketSchema, packetToProto(packet)))),
    async *receive() {
      for await (const message of requests) {
        let packet: Packet
        try {
          packet = fromBinary(PacketSchema, message)
        } catch (err) {
          throw new FileSyncError('Protocol', `a local export message is not an fsutil packet: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
        }
        yield packetFromProto(packet)
      }
    },
  }
}

/** Writes an archive export into the target's sink; resolves once the sink finished. */
async function writeToStream(id: string, target: ExportStreamTarget, requests: AsyncIterable<Uint8Array>, call: ServerCall): Promise<void> {
  const what = `the output of exporter ${id}`
  if (call.signal.aborted) throw canceled(call.signal)
  let sink: Writable
  try {
    sink = await target.open(exportMetadataOf(call.metadata))
  } catch (err) {
    throw ioError(err, 'opening', what)
  }
  // One controller for everything that ends the transfer early: the daemon canceling, the sink failing or
  // closing. It rejects a waiting read or a waiting drain.
  const stop = new AbortController()
  let sinkError: { error: unknown } | undefined
  let ended = false
  const onSinkError = (error: unknown): void => {
    sinkError ??= { error }
    stop.abort(error)
  }
  const onSinkClose = (): void => {
    if (!ended) onSinkError(new Error('the sink closed before the export was complete'))
  }
  const onCallAbort = (): void => {
    const error = canceled(call.signal)
    stop.abort(error)
    sink.destroy(error)
  }
  sink.on('error', onSinkError)
  sink.once('close', onSinkClose)
  if (call.signal.aborted) onCallAbort()
  else call.signal.addEventListener('abort', onCallAbort, { once: true })
  const reader = new AbortableReader(requests, stop.signal)
  try {
    for (;;) {
      const next = await reader.next()
      if (next.done === true) break
      const { data } = fromBinary(BytesMessageSchema, next.value)
      if (data.length > 0 && !sink.write(data)) await nextEventOrAbort(sink, 'drain', stop.signal)
    }
    ended = true
    sink.end()
    await finished(sink, { readable: false }).catch((error: unknown) => {
      sinkError ??= { error }
      throw error
    })
    // A sink can finish and still report an error it met while flushing, before 'finish'.
    if (sinkError !== undefined) throw sinkError.error
  } catch (err) {
    if (call.signal.aborted) throw canceled(call.signal)
    const error = sinkError === undefined ? err : ioError(sinkError.error, 'writing', what)
    if (!sink.destroyed) sink.destroy(error instanceof Error ? error : new Error(String(error)))
    throw error
  } finally {
    call.signal.removeEventListener('abort', onCallAbort)
    sink.off('close', onSinkClose)
    reader.close()
  }
}

function canceled(signal: AbortSignal): CanceledError {
  return new CanceledError('export transfer canceled', { cause: signal.reason })
}
