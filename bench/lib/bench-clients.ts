/**
 * The four clients under comparison, each on its own connection to the same daemon, so none benefits from
 * another's warm HTTP/2 session: our `Client`, our bare `Http2Channel` (the floor of our stack), @grpc/grpc-js
 * and @connectrpc/connect-node.
 */
import type * as grpc from '@grpc/grpc-js'
import { Client } from '../../src/index.js'
import { Http2Channel } from '../../src/grpc/http2-channel.js'
import { createConnectTransport, type ConnectTransport } from './connect-client.js'
import { createGrpcJsClient, namespaceMetadata } from './grpc-js-client.js'

export interface BenchClients {
  /** The socket path of the daemon. */
  address: string
  namespace: string
  ours: Client
  channel: Http2Channel
  grpcJs: grpc.Client
  grpcJsMetadata: grpc.Metadata
  connect: ConnectTransport
  /** Closes every connection. Idempotent. */
  close(): void
}

export async function openBenchClients(address: string, namespace: string): Promise<BenchClients> {
  const ours = await Client.connect({ address, namespace })
  const channel = new Http2Channel(address)
  const grpcJs = createGrpcJsClient(address)
  const connect = createConnectTransport(address)
  let closed = false
  return {
    address,
    namespace,
    ours,
    channel,
    grpcJs,
    grpcJsMetadata: namespaceMetadata(namespace),
    connect,
    close: () => {
      if (closed) return
      closed = true
      ours.close()
      channel.close()
      grpcJs.close()
      connect.close()
    },
  }
}
