/**
 * The @connectrpc/connect-node baseline: its gRPC transport over the unix socket. We build the session
 * manager ourselves with the same options `createGrpcTransport({ nodeOptions: { createConnection } })` would
 * pass it, only so the benchmark can close the connection at the end instead of waiting for its idle timeout.
 */
import { connect as netConnect } from 'node:net'
import { Http2SessionManager, createGrpcTransport } from '@connectrpc/connect-node'
import type { Transport } from '@connectrpc/connect'

export interface ConnectTransport {
  transport: Transport
  close(): void
}

export function createConnectTransport(socketPath: string): ConnectTransport {
  const baseUrl = 'http://localhost'
  const sessionManager = new Http2SessionManager(baseUrl, {}, { createConnection: () => netConnect(socketPath) })
  return { transport: createGrpcTransport({ baseUrl, sessionManager }), close: () => sessionManager.abort() }
}

/** Call options carrying containerd's namespace header. */
export function connectCallOptions(namespace: string): { headers: Record<string, string> } {
  return { headers: { 'containerd-namespace': namespace } }
}
