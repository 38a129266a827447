import { AsyncQueue } from '../../../../src/util/async-queue.js'
import type { FsutilPacket, PacketStream } from '../../../../src/build/filesync/fsutil-types.js'

/** Two connected in-memory ends of a DiffCopy stream; `close()` half-closes an end's sending side. */
export interface PipeEnd extends PacketStream {
  /** Every packet this end sent, in order. */
  readonly sent: FsutilPacket[]
  /** Ends this end's sending direction (the peer's `receive()` then ends). */
  close(): void
}

/** Makes a connected pair: what `a` sends, `b` receives, and the other way round. */
export function packetPipe(highWater = 64): [PipeEnd, PipeEnd] {
  const ab = new AsyncQueue<FsutilPacket>(highWater)
  const ba = new AsyncQueue<FsutilPacket>(highWater)
  const end = (out: AsyncQueue<FsutilPacket>, inn: AsyncQueue<FsutilPacket>): PipeEnd => {
    const sent: FsutilPacket[] = []
    return {
      sent,
      async send(p) {
        await out.space()
        sent.push(p)
        out.push(p)
      },
      receive: () => inn,
      close: () => out.close(),
    }
  }
  return [end(ab, ba), end(ba, ab)]
}
