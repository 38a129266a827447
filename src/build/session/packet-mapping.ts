/**
 * `fsutil.types.Packet` (generated protobuf message) ↔ `FsutilPacket` (the plain shape the transfer
 * logic in `filesync/` works on). The session is where the two meet.
 */

import type { MessageInitShape } from '@bufbuild/protobuf'
import type { FsutilPacket, FsutilStat, PacketType } from '../filesync/fsutil-types.js'
import type { Stat } from '../../gen/moby/fsutil/types/stat_pb.js'
import type { Packet, PacketSchema } from '../../gen/moby/fsutil/types/wire_pb.js'

/** A plain packet as the init shape of the generated message. */
export function packetToProto(packet: FsutilPacket): MessageInitShape<typeof PacketSchema> {
  const init: MessageInitShape<typeof PacketSchema> = { type: packet.type }
  if (packet.stat !== undefined) init.stat = { ...packet.stat }
  if (packet.id !== undefined) init.ID = packet.id
  if (packet.data !== undefined) init.data = packet.data
  return init
}

/**
 * A generated packet as a plain one. The type is passed through as a number even when it is none of
 * the five known ones: the transfer logic refuses it as a protocol error, with the number in the message.
 */
export function packetFromProto(packet: Packet): FsutilPacket {
  const plain: FsutilPacket = { type: packet.type as number as PacketType, id: packet.ID, data: packet.data }
  if (packet.stat !== undefined) plain.stat = statFromProto(packet.stat)
  return plain
}

function statFromProto(stat: Stat): FsutilStat {
  return {
    path: stat.path,
    mode: stat.mode,
    uid: stat.uid,
    gid: stat.gid,
    size: stat.size,
    modTime: stat.modTime,
    linkname: stat.linkname,
    devmajor: stat.devmajor,
    devminor: stat.devminor,
    xattrs: stat.xattrs,
  }
}
