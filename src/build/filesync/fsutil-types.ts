/**
 * The fsutil wire messages (`fsutil.types.Packet` and `fsutil.types.Stat`) as plain shapes.
 *
 * FileSync.DiffCopy and the `local` exporter's FileSend both carry these. The protocol logic here works on
 * plain objects so it can be tested without a transport; the session layer maps them to and from the
 * generated protobuf classes at its edge.
 */

/** `fsutil.types.Packet.PacketType`: what a packet carries. */
export const PacketType = {
  /** One entry of the listing; a packet without `stat` ends the listing. */
  STAT: 0,
  /** The receiver asks for the contents of the entry with this ID. */
  REQ: 1,
  /** A chunk of a file's contents; an empty one ends that file. */
  DATA: 2,
  /** The transfer is complete (sent by the receiver, echoed by the sender). */
  FIN: 3,
  /** The peer failed; `data` is its error text. */
  ERR: 4,
} as const

/** A numeric {@link PacketType}. */
export type PacketType = (typeof PacketType)[keyof typeof PacketType]

/** `fsutil.types.Stat`: one file system entry as the Go client describes it. */
export interface FsutilStat {
  /** Relative, `/`-separated path, no leading `./` or `/` (field 1). */
  path: string
  /** A Go `os.FileMode` (type bits at the top, permissions at the bottom), never Unix `S_IF*` bits (field 2). */
  mode: number
  /** Owner user ID (field 3); the Go client sends 0. */
  uid: number
  /** Owner group ID (field 4); the Go client sends 0. */
  gid: number
  /** Size in bytes: 0 for directories and for hard links after the first (field 5, int64). */
  size: bigint
  /** Modification time in Unix nanoseconds (field 6, int64). */
  modTime: bigint
  /** A symlink's target, or for a hard link the path of the first entry with the same inode (field 7). */
  linkname: string
  /** Device major number, for block and character devices (field 8). */
  devmajor: bigint
  /** Device minor number, for block and character devices (field 9). */
  devminor: bigint
  /** Extended attributes (field 10). */
  xattrs: Record<string, Uint8Array>
}

/** `fsutil.types.Packet`: one message of a DiffCopy stream. */
export interface FsutilPacket {
  /** What the packet carries (field 1). */
  type: PacketType
  /** The entry, for {@link PacketType.STAT}; absent on the STAT that ends the listing (field 2). */
  stat?: FsutilStat
  /** The entry's index in the listing, for REQ and DATA (field 3, uint32). */
  id?: number
  /** File bytes for DATA, error text for ERR (field 4). */
  data?: Uint8Array
}

/**
 * A bidirectional packet stream: what a DiffCopy call looks like to the protocol logic.
 * `send` resolves once the packet is accepted by the transport (its back-pressure); `receive` yields the
 * peer's packets and ends when the peer half-closes.
 */
export interface PacketStream {
  /** Sends one packet. */
  send(packet: FsutilPacket): Promise<void>
  /** The peer's packets, in order. Called once. */
  receive(): AsyncIterable<FsutilPacket>
}
