/**
 * The docker credential-helper protocol: `docker-credential-<name> get|store|erase`.
 *
 * The program reads its input on stdin (a server URL, or for `store` a JSON object) and answers on stdout.
 * A failing helper exits non-zero and prints a message on stdout; "credentials not found in native keychain"
 * is the agreed message for a missing entry. Everything a helper prints may contain secrets, so error
 * messages only ever quote a sanitised first line of its output, never stdin.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { RegistryError } from './registry-error.js'
import { canceledError } from '../grpc/abort.js'

/** The helper actions this SDK uses. */
export type CredentialHelperAction = 'get' | 'store' | 'erase'

/** Credentials in the helper protocol's shape. */
export interface HelperCredentials {
  /** The server the credentials are for, as passed to the helper. */
  serverUrl: string
  /** The user name, or `<token>` when `secret` is an identity token. */
  username: string
  /** The password or identity token. */
  secret: string
}

/** Options of the credential-helper calls. */
export interface CredentialHelperOptions {
  /** Environment of the helper; its `PATH` also decides where the program is looked up. Default `process.env`. */
  env?: NodeJS.ProcessEnv
  /** How long the helper may run before it is killed, in milliseconds. Default 60 000. */
  timeoutMs?: number
  /** Aborts the call and kills the helper. */
  signal?: AbortSignal
}

/** How one run of a helper ended: the raw material {@link credentialHelperGet} and friends interpret. */
export type CredentialHelperOutcome =
  /** Exit status 0. */
  | { status: 'ok'; stdout: string }
  /** A non-zero exit or a signal; `output` is stdout followed by stderr. */
  | { status: 'failed'; exitCode: number | null; output: string }
  /** No `docker-credential-<name>` program on PATH. */
  | { status: 'missing' }

/**
 * Runs a helper program once. Injectable so callers (and tests) can replace the process spawn.
 * Only throws for problems of the run itself (timeout, abort, output too large).
 */
export type CredentialHelperRunner = (
  helper: string,
  action: CredentialHelperAction,
  input: string,
  options?: CredentialHelperOptions,
) => Promise<CredentialHelperOutcome>

/** The username a helper stores and returns when the secret is an identity (refresh) token. */
export const IDENTITY_TOKEN_USERNAME = '<token>'

const DEFAULT_TIMEOUT_MS = 60_000
// Helper answers are a few hundred bytes; anything far larger is a broken helper, not credentials.
const MAX_OUTPUT_BYTES = 1024 * 1024
const NOT_FOUND = /credentials not found/i

/**
 * Spawns `docker-credential-<helper> <action>`, writes `input` to its stdin and collects its output.
 *
 * @throws RegistryError `InvalidConfig` for a helper name that is not a plain program suffix;
 *   `CredentialHelper` when the helper times out, prints too much or cannot be started; CanceledError
 *   (cause: the signal's reason) when `signal` aborts.
 */
export const runCredentialHelper: CredentialHelperRunner = (helper, action, input, options = {}) => {
  return new Promise<CredentialHelperOutcome>((resolve, reject) => {
    // Inside the executor, so that a bad name rejects rather than throws.
    const program = helperProgram(helper)
    if (options.signal?.aborted === true) {
      reject(canceledError(options.signal, `${program} ${action}`))
      return
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    let settled = false
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let size = 0

    let child: ChildProcessWithoutNullStreams
    try {
      child = spawn(program, [action], { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true })
    } catch {
      // Synchronous failures are argument errors whose message may quote an environment value: no cause.
      reject(new RegistryError('CredentialHelper', `${program} ${action}: cannot start the helper`))
      return
    }

    const finish = (result: { outcome: CredentialHelperOutcome } | { error: Error }): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      if ('error' in result) {
        child.kill('SIGKILL')
        reject(result.error)
      } else {
        resolve(result.outcome)
      }
    }
    const onAbort = (): void => {
      finish({ error: canceledError(options.signal as AbortSignal, `${program} ${action}`) })
    }
    const timer = setTimeout(() => {
      finish({ error: new RegistryError('CredentialHelper', `${program} ${action}: timed out after ${timeoutMs} ms`) })
    }, timeoutMs)
    options.signal?.addEventListener('abort', onAbort, { once: true })

    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_OUTPUT_BYTES) {
        finish({ error: new RegistryError('CredentialHelper', `${program} ${action}: output larger than ${MAX_OUTPUT_BYTES} bytes`) })
        return
      }
      into.push(chunk)
    }
    child.stdout.on('data', collect(stdout))
    child.stderr.on('data', collect(stderr))

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        finish({ outcome: { status: 'missing' } })
        return
      }
      // The errno error names only the program and the syscall, never the input.
      finish({ error: new RegistryError('CredentialHelper', `${program} ${action}: cannot run (${err.code ?? err.message})`, { cause: err }) })
    })
    child.on('close', (exitCode) => {
      const out = Buffer.concat(stdout).toString('utf8')
      if (exitCode === 0) finish({ outcome: { status: 'ok', stdout: out } })
      else finish({ outcome: { status: 'failed', exitCode, output: out + Buffer.concat(stderr).toString('utf8') } })
    })

    // A helper may exit without reading stdin (e.g. `erase` of nothing); the resulting EPIPE is not an error.
    child.stdin.on('error', () => {})
    child.stdin.end(input)
  })
}

/**
 * Asks a helper for the credentials of `serverUrl`.
 *
 * @returns the credentials, or `undefined` when the helper is not installed or has none for this server
 *   (both are ordinary: the caller falls back to other sources).
 * @throws RegistryError `CredentialHelper` for any other failure or an unparsable answer.
 */
export async function credentialHelperGet(
  helper: string,
  serverUrl: string,
  options: CredentialHelperOptions & { run?: CredentialHelperRunner } = {},
): Promise<HelperCredentials | undefined> {
  const outcome = await (options.run ?? runCredentialHelper)(helper, 'get', serverUrl, options)
  if (outcome.status === 'missing') return undefined
  if (outcome.status === 'failed') {
    if (NOT_FOUND.test(outcome.output)) return undefined
    throw failure(helper, 'get', outcome, [])
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(outcome.stdout)
  } catch {
    // JSON.parse's message quotes the input, which holds the secret: report without it.
    throw new RegistryError('CredentialHelper', `${helperProgram(helper)} get: answer is not JSON`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RegistryError('CredentialHelper', `${helperProgram(helper)} get: answer is not a JSON object`)
  }
  const record = parsed as Record<string, unknown>
  const username = record['Username'] ?? ''
  const secret = record['Secret'] ?? ''
  if (typeof username !== 'string' || typeof secret !== 'string') {
    throw new RegistryError('CredentialHelper', `${helperProgram(helper)} get: Username and Secret must be strings`)
  }
  // An empty answer is how some helpers say "nothing stored" while exiting 0.
  if (username === '' && secret === '') return undefined
  const server = typeof record['ServerURL'] === 'string' && record['ServerURL'] !== '' ? record['ServerURL'] : serverUrl
  return { serverUrl: server, username, secret }
}

/**
 * Stores credentials through a helper (`docker login` with a helper configured).
 *
 * @throws RegistryError `CredentialHelper` when the helper is missing or fails.
 */
export async function credentialHelperStore(
  helper: string,
  credentials: HelperCredentials,
  options: CredentialHelperOptions & { run?: CredentialHelperRunner } = {},
): Promise<void> {
  const input = JSON.stringify({ ServerURL: credentials.serverUrl, Username: credentials.username, Secret: credentials.secret })
  const outcome = await (options.run ?? runCredentialHelper)(helper, 'store', input, options)
  if (outcome.status === 'ok') return
  // A helper that echoes its input back in an error must not leak the secret through us.
  throw failure(helper, 'store', outcome, [credentials.secret])
}

/**
 * Removes the credentials of `serverUrl` from a helper (`docker logout`). Nothing stored is not an error.
 *
 * @throws RegistryError `CredentialHelper` when the helper is missing or fails.
 */
export async function credentialHelperErase(
  helper: string,
  serverUrl: string,
  options: CredentialHelperOptions & { run?: CredentialHelperRunner } = {},
): Promise<void> {
  const outcome = await (options.run ?? runCredentialHelper)(helper, 'erase', serverUrl, options)
  if (outcome.status === 'ok') return
  if (outcome.status === 'failed' && NOT_FOUND.test(outcome.output)) return
  throw failure(helper, 'erase', outcome, [])
}

/** The program name for a helper suffix; rejects names that would make spawn run a path instead. */
export function helperProgram(helper: string): string {
  if (helper === '' || /[/\\\0]/.test(helper) || helper === '.' || helper === '..') {
    throw new RegistryError('InvalidConfig', 'credential helper names must be a plain program suffix without path separators')
  }
  return `docker-credential-${helper}`
}

function failure(
  helper: string,
  action: CredentialHelperAction,
  outcome: Exclude<CredentialHelperOutcome, { status: 'ok' }>,
  secrets: readonly string[],
): RegistryError {
  const program = helperProgram(helper)
  if (outcome.status === 'missing') {
    return new RegistryError('CredentialHelper', `${program} ${action}: ${program} is not installed (not found on PATH)`)
  }
  const how = outcome.exitCode === null ? 'was killed' : `exited with status ${outcome.exitCode}`
  const said = describeOutput(outcome.output, secrets)
  return new RegistryError('CredentialHelper', `${program} ${action}: ${how}${said === '' ? '' : `: ${said}`}`)
}

/**
 * The part of a helper's error output that is safe to show: its first line, shortened, with known secrets
 * masked; dropped entirely when it looks like structured data (which may be a credential record).
 */
function describeOutput(output: string, secrets: readonly string[]): string {
  const line = output.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? ''
  if (line === '' || /[{}]/.test(line)) return ''
  // Mask before shortening, so a cut cannot leave a recognisable part of a secret behind.
  let safe = line
  for (const secret of secrets) {
    if (secret !== '') safe = safe.split(secret).join('***')
  }
  return safe.length > 200 ? `${safe.slice(0, 200)}…` : safe
}
