/**
 * The @grpc/grpc-js baseline: its generic `Client` with protobuf-es v2 codecs, the way a user without our SDK
 * would call containerd from Node. The message limits are containerd's own 16 MiB (grpc-js receives at most
 * 4 MiB by default), the same limit our channel applies, so all clients accept the same answers.
 */
import * as grpc from '@grpc/grpc-js'
import { create, fromBinary, toBinary, type DescMessage, type DescMethod, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf'

const MESSAGE_LIMIT = 16 << 20

export function createGrpcJsClient(socketPath: string): grpc.Client {
  return new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': MESSAGE_LIMIT,
    'grpc.max_send_message_length': MESSAGE_LIMIT,
  })
}

/** The namespace header containerd requires, as grpc-js metadata. */
export function namespaceMetadata(namespace: string): grpc.Metadata {
  const md = new grpc.Metadata()
  md.set('containerd-namespace', namespace)
  return md
}

function pathOf(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`
}

// Wraps protobuf-es bytes in a Buffer without copying: grpc-js wants Buffers.
function codecs<I extends DescMessage, O extends DescMessage>(input: I, output: O) {
  return {
    serialize: (value: MessageShape<I>): Buffer => {
      const bytes = toBinary(input, value)
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    },
    deserialize: (bytes: Buffer): MessageShape<O> => fromBinary(output, bytes),
  }
}

/** One unary call, encoded and decoded with protobuf-es, as a promise. */
export function grpcJsUnary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethod & { input: I; output: O },
  request: MessageInitShape<I>,
  metadata: grpc.Metadata,
): Promise<MessageShape<O>> {
  const { serialize, deserialize } = codecs(method.input, method.output)
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(pathOf(method), serialize, deserialize, create(method.input, request), metadata, {}, (err, res) => {
      if (err !== null || res === undefined) reject(err ?? new Error(`${pathOf(method)}: no response`))
      else resolve(res)
    })
  })
}

/** A server-streaming call as an async iterable of decoded responses. */
export function grpcJsServerStream<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  method: DescMethod & { input: I; output: O },
  request: MessageInitShape<I>,
  metadata: grpc.Metadata,
): AsyncIterable<MessageShape<O>> {
  const { serialize, deserialize } = codecs(method.input, method.output)
  return client.makeServerStreamRequest(pathOf(method), serialize, deserialize, create(method.input, request), metadata)
}
