/**
 * A request message already encoded to protobuf bytes, given as parts that are sent one after another
 * without being joined. For hot paths (content writes) that build the small head of a message by hand
 * and send a large payload as it is, instead of letting the encoder copy it twice.
 */
export class PreEncoded {
  /** Total length of the encoded message. */
  readonly byteLength: number

  constructor(
    /** The encoded message, in order. */
    readonly parts: readonly Uint8Array[],
  ) {
    this.byteLength = parts.reduce((n, p) => n + p.byteLength, 0)
  }
}
