/**
 * `moby.sshforward.v1.SSH`: the caller's ssh-agent for `RUN --mount=type=ssh`. The daemon is the caller.
 * - `CheckAgent{ID}` when it prepares the mount: OK if the session has that agent (an empty ID is
 *   `default`), NotFound otherwise. Without the mount's socket the step sees no agent.
 * - `ForwardAgent` once for every connection a process in the build makes to the mounted socket: a
 *   bidirectional stream of `BytesMessage{data}` chunks of the raw agent protocol. The agent's id comes in
 *   the call metadata `buildkit.ssh.id` (missing or empty = `default`). Each call gets its own connection
 *   to the agent's unix socket; bytes are copied both ways, each side waiting for the other to take them.
 *
 * Nothing is parsed or filtered: the agent sees what the build sends (BuildKit's own client puts a
 * read-only agent in between that refuses to add or remove keys; this one forwards the socket as is, like
 * that client's raw mode). The agent's answers never leave the call.
 */

import { createConnection, type Socket } from 'node:net'
import { CanceledError, NotFoundError, UnavailableError } from '../../grpc/errors.js'
import { SSH, type BytesMessage } from '../../gen/moby/buildkit/session/sshforward/ssh_pb.js'
import { AbortableReader } from '../filesync/abortable-reader.js'
import type { MethodHandler, ServerMetadata } from './grpc-handler.js'
import { bidiHandler, methodPath, unaryHandler } from './proto-handler.js'
import { nextEventOrAbort } from '../../util/event-or-abort.js'

/** The id BuildKit asks for when a mount names none (`RUN --mount=type=ssh`). */
export const DEFAULT_SSH_ID = 'default'

/** The metadata key of `ForwardAgent` that names the agent (BuildKit's `sshforward.KeySSHID`). */
const SSH_ID_KEY = 'buildkit.ssh.id'

/** One ssh-agent the session forwards. */
export interface SshAgent {
  /** The agent's unix socket, e.g. the caller's `SSH_AUTH_SOCK`. Connected to once per forwarded connection. */
  socket: string
}

/** Agents by id (the `id=` of `RUN --mount=type=ssh`; `default` when the mount names none). */
export type SshAgents = ReadonlyMap<string, SshAgent>

/**
 * The SSH service's handlers, by method path. An unknown id is NotFound (naming the id); an agent socket
 * that cannot be connected to, or a connection that breaks, is Unavailable naming the socket path. The
 * call ends with OK once the agent closes its side; when the daemon half-closes, the agent connection is
 * half-closed too (the agent still answers what it read, then closes); a canceled call closes it at once.
 */
export function sshMethods(agents: SshAgents): [string, MethodHandler][] {
  const checkAgent = unaryHandler(SSH.method.checkAgent, (request) => {
    const id = request.ID === '' ? DEFAULT_SSH_ID : request.ID
    return agents.has(id) ? Promise.resolve({}) : Promise.reject(unknownAgent(id))
  })
  const forwardAgent = bidiHandler(SSH.method.forwardAgent, async (requests, send, call) => {
    const id = sshIdOf(call.metadata)
    const agent = agents.get(id)
    if (agent === undefined) throw unknownAgent(id)
    await forward(id, agent.socket, requests, send, call.signal)
  })
  return [
    [methodPath(SSH.method.checkAgent), checkAgent],
    [methodPath(SSH.method.forwardAgent), forwardAgent],
  ]
}

/** The agent a `ForwardAgent` call is for: `buildkit.ssh.id`, or `default` when missing or empty. */
export function sshIdOf(metadata: ServerMetadata): string {
  const value = metadata[SSH_ID_KEY]?.[0]
  return value === undefined || value === '' ? DEFAULT_SSH_ID : value
}

/**
 * Connects to the agent and copies bytes both ways until the agent closes its side (the end of the call),
 * something fails, or the call is canceled. Whatever ends it first decides the outcome; the socket is
 * destroyed before this returns.
 */
async function forward(
  id: string,
  path: string,
  requests: AsyncIterable<BytesMessage>,
  send: (message: { data: Uint8Array }) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) throw canceled(signal)
  const socket = createConnection({ path })
  // Aborted by the first thing that ends the forwarding early, with the call's error as its reason; a
  // normal end aborts it without a failure, to stop the daemon-to-agent copy if it still waits.
  const stop = new AbortController()
  let failed = false
  const fail = (error: unknown): void => {
    if (stop.signal.aborted) return
    failed = true
    stop.abort(error)
    socket.destroy()
  }
  let connected = false
  // Listened to from the start and never removed: a late error (after the call ended) must not go unheard.
  socket.on('error', (error) => fail(connected ? agentBroke(id, path, error) : unreachable(id, path, error)))
  const onCallAbort = (): void => fail(canceled(signal))
  signal.addEventListener('abort', onCallAbort, { once: true })
  let toAgent: Promise<void> | undefined
  try {
    await nextEventOrAbort(socket, 'connect', stop.signal)
    connected = true
    toAgent = copyToAgent(requests, socket, stop.signal).catch(fail)
    for await (const chunk of socket as AsyncIterable<Buffer>) await send({ data: chunk })
  } catch (err) {
    // Usually a consequence of an earlier `fail` (a destroyed socket, a closed call), which then wins.
    fail(err)
  }
  signal.removeEventListener('abort', onCallAbort)
  const reason: unknown = stop.signal.reason
  if (!failed) stop.abort(new CanceledError('the ssh agent closed the connection'))
  socket.destroy()
  await toAgent
  if (failed) throw reason
}

/** Copies the daemon's bytes to the agent, waiting for the socket to drain; half-closes at the daemon's end. */
async function copyToAgent(requests: AsyncIterable<BytesMessage>, socket: Socket, stop: AbortSignal): Promise<void> {
  const reader = new AbortableReader(requests, stop)
  try {
    for (;;) {
      const next = await reader.next()
      if (next.done === true) break
      const { data } = next.value
      if (data.length > 0 && !socket.write(data)) await nextEventOrAbort(socket, 'drain', stop)
    }
  } finally {
    reader.close()
  }
  // The daemon is done sending (the process in the build half-closed its socket) but may still read: the
  // agent gets end-of-file, answers what it read and closes, which ends the call (BuildKit does the same).
  if (!stop.aborted) socket.end()
}

// The id is the caller's own name for the agent; the socket path is where it listens. Neither is secret,
// and no agent bytes ever go into a message.
function unknownAgent(id: string): NotFoundError {
  return new NotFoundError(`no ssh agent ${JSON.stringify(id)} in this session`)
}

function unreachable(id: string, path: string, error: Error): UnavailableError {
  return new UnavailableError(`cannot connect to ssh agent ${JSON.stringify(id)} at ${path}: ${reasonOf(error)}`, { cause: error })
}

function agentBroke(id: string, path: string, error: Error): UnavailableError {
  return new UnavailableError(`the connection to ssh agent ${JSON.stringify(id)} at ${path} failed: ${reasonOf(error)}`, { cause: error })
}

/** A system error's code (`ENOENT`, `ECONNREFUSED`): its message repeats the path. */
function reasonOf(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code
  return typeof code === 'string' ? code : error.message
}

function canceled(signal: AbortSignal): CanceledError {
  return new CanceledError('ssh agent forwarding canceled', { cause: signal.reason })
}
