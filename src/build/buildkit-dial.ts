import { request as httpRequest } from 'node:http'
import { connect as netConnect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { InvalidArgumentError, NotImplementedError, UnavailableError, type ContainerdError } from '../grpc/errors.js'
import type { BuildKitAddress } from './buildkit-address.js'

/**
 * Opens the byte stream an HTTP/2 gRPC session to BuildKit runs on. For `docker://` this is the Docker API
 * socket after dockerd switched it to HTTP/2 (`POST /grpc`, `Upgrade: h2c`): from the 101 on we are the
 * HTTP/2 client on that socket, exactly as buildx's docker driver is. `signal` abandons a dial that hangs.
 */
export function dialBuildKit(target: BuildKitAddress, signal?: AbortSignal): Promise<Duplex> {
  switch (target.kind) {
    case 'unix': return connectSocket(target.address, () => netConnect({ path: target.path, ...withSignal(signal) }))
    case 'tcp': return connectSocket(target.address, () => netConnect({ host: target.host, port: target.port, ...withSignal(signal) }))
    case 'docker': return upgradeDockerGrpc(target.address, target.socketPath, signal)
  }
}

// Node's options reject `signal: undefined` under exactOptionalPropertyTypes: only set when given.
function withSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal }
}

function connectSocket(address: string, open: () => Socket): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    const socket = open()
    socket.once('connect', () => { socket.removeAllListeners('error'); resolve(socket) })
    socket.once('error', (err: NodeJS.ErrnoException) => reject(unreachable(address, err)))
  })
}

function upgradeDockerGrpc(address: string, socketPath: string, signal: AbortSignal | undefined): Promise<Duplex> {
  return new Promise<Duplex>((resolve, reject) => {
    const req = httpRequest({
      ...withSignal(signal),
      socketPath,
      method: 'POST',
      path: '/grpc',
      // Host is required by HTTP/1.1; dockerd ignores its value on the unix socket.
      headers: { Host: 'docker', Connection: 'Upgrade', Upgrade: 'h2c' },
    })
    req.once('upgrade', (res, socket: Socket, head: Buffer) => {
      if (res.statusCode !== 101) {
        socket.destroy()
        reject(new UnavailableError(`BuildKit is not reachable at ${address}: dockerd answered ${res.statusCode} to the /grpc upgrade`))
        return
      }
      // Bytes read past the 101 (dockerd's HTTP/2 SETTINGS can arrive in the same read) belong to the
      // HTTP/2 session: pushed back, node:http2 reads them first from the socket's buffer.
      if (head.length > 0) socket.unshift(head)
      resolve(socket)
    })
    // No upgrade: an old dockerd without /grpc (404), or BuildKit disabled (it answers an error page).
    req.once('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => { if (chunks.length < 16) chunks.push(c) })
      res.once('end', () => {
        const body = Buffer.concat(chunks).toString('utf8').trim().slice(0, 300)
        const message = `dockerd at ${address} did not open its BuildKit endpoint: HTTP ${res.statusCode ?? '?'}${body === '' ? '' : ` (${body})`}`
        reject(res.statusCode === 404 ? new NotImplementedError(`${message}; this Docker has no /grpc endpoint`) : new UnavailableError(message))
      })
    })
    req.once('error', (err: NodeJS.ErrnoException) => reject(unreachable(address, err)))
    req.end()
  })
}

/** A connect failure named by the BuildKit address the caller gave, not the socket path alone. */
function unreachable(address: string, err: NodeJS.ErrnoException): ContainerdError {
  switch (err.code) {
    case 'ENOENT':
      return new UnavailableError(`BuildKit is not reachable at ${address}: no socket exists there (is buildkitd or dockerd running? set BUILDKIT_HOST or pass address)`, { cause: err })
    case 'ECONNREFUSED':
      return new UnavailableError(`BuildKit is not reachable at ${address}: nothing is listening there`, { cause: err })
    case 'ENOTSOCK':
      return new InvalidArgumentError(`BuildKit address ${address} is not a socket`, { cause: err })
    case 'EACCES':
      return new UnavailableError(`BuildKit is not reachable at ${address}: permission denied (the socket usually needs root)`, { cause: err })
    default:
      return new UnavailableError(`BuildKit is not reachable at ${address}: ${err.message}`, { cause: err })
  }
}
