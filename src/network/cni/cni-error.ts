import { ContainerdError, type ErrorCode } from '../../grpc/errors.js'

/** The CNI command a plugin was run with. */
export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION'

/** What a {@link CniError} is about, besides its message. */
export interface CniErrorOptions {
  /** The plugin's `type` (its binary's name). */
  plugin?: string | undefined
  /** The command it was run with. */
  command?: CniCommand | undefined
  /** The network (conflist `name`). */
  network?: string | undefined
  /** The `code` of the error result the plugin printed (CNI spec: 1–99 are the spec's, 100+ the plugin's). */
  cniCode?: number | undefined
  /** The `msg` of the error result the plugin printed. */
  msg?: string | undefined
  /** The `details` of the error result the plugin printed. */
  details?: string | undefined
  /** The underlying error (a spawn failure, a JSON parse error, …). */
  cause?: unknown
}

const cniBrand = Symbol.for('containerd-sdk.CniError')

/**
 * A CNI plugin failed, or could not be run. It is a {@link ContainerdError} whose `code` is the errdefs
 * class closest to the failure (`FailedPrecondition` for a plugin that is not installed, `InvalidArgument`
 * for a configuration the plugin refused, `Unknown` for a plugin's own failure, …), so
 * `err instanceof FailedPreconditionError` holds for a missing plugin. `plugin`, `command` and `network`
 * say which run failed; `cniCode`, `msg` and `details` carry the plugin's own error result when it
 * printed one.
 */
export class CniError extends ContainerdError {
  /** The plugin's `type`, when the failure belongs to one plugin. */
  readonly plugin: string | undefined
  /** The CNI command that failed. */
  readonly command: CniCommand | undefined
  /** The network (conflist `name`) concerned. */
  readonly network: string | undefined
  /** The plugin's error code (CNI spec §"Error"), when it printed an error result. */
  readonly cniCode: number | undefined
  /** The plugin's error message, when it printed an error result. */
  readonly msg: string | undefined
  /** The plugin's error details, when it printed an error result with some. */
  readonly details: string | undefined

  /** Creates the error; `code` is the errdefs class callers branch on. */
  constructor(code: ErrorCode, message: string, options: CniErrorOptions = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause })
    this.name = 'CniError'
    this.plugin = options.plugin
    this.command = options.command
    this.network = options.network
    this.cniCode = options.cniCode
    this.msg = options.msg
    this.details = options.details
    Object.defineProperty(this, cniBrand, { value: true })
  }

  /**
   * Brand check: the inherited check would accept any ContainerdError, since this class has no single
   * errdefs class of its own.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && cniBrand in value
  }
}

/**
 * The errdefs class for a CNI error code (CNI spec 1.0.0 §"Error"): 1 incompatible version, 2
 * unsupported field, 3 unknown container, 4 invalid environment variables, 5 I/O failure, 6 failed to
 * decode, 7 invalid network config, 11 try again later; plugin-specific codes (100+) are Unknown.
 */
export function errorCodeOfCniCode(cniCode: number | undefined): ErrorCode {
  switch (cniCode) {
    case 1:
      // The plugin cannot speak the list's cniVersion: installing another plugin version fixes it.
      return 'FailedPrecondition'
    case 2:
    case 4:
    case 6:
    case 7:
      return 'InvalidArgument'
    case 3:
      return 'NotFound'
    case 11:
      return 'Unavailable'
    default:
      return 'Unknown'
  }
}

// How much of a plugin's stderr a message quotes: enough for a Go error chain, not a whole log.
const MAX_QUOTED_STDERR = 2048

/** Which plugin run failed, for {@link pluginFailure}. */
export interface PluginRun {
  /** The plugin's `type`. */
  plugin: string
  /** The command. */
  command: CniCommand
  /** The network, absent for VERSION. */
  network?: string | undefined
}

/**
 * The error for a plugin that exited unsuccessfully. The CNI spec has it print an error result
 * `{cniVersion, code, msg, details}` on stdout; plugins of older specs (and a plugin that crashed)
 * write to stderr instead, which is quoted when stdout has no error result.
 * @param exit the exit code, or the signal that ended the plugin.
 */
export function pluginFailure(run: PluginRun, stdout: string, stderr: string, exit: { code: number | null; signal: string | null }): CniError {
  let printed: Record<string, unknown> | undefined
  try {
    const value: unknown = JSON.parse(stdout)
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) printed = value as Record<string, unknown>
  } catch {
    // Not an error result: fall back on stderr below.
  }
  const cniCode = typeof printed?.['code'] === 'number' ? printed['code'] : undefined
  const msg = typeof printed?.['msg'] === 'string' && printed['msg'] !== '' ? printed['msg'] : undefined
  const details = typeof printed?.['details'] === 'string' && printed['details'] !== '' ? printed['details'] : undefined
  const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with status ${exit.code ?? 'unknown'}`
  let text: string
  if (msg !== undefined || cniCode !== undefined) {
    text = `${msg ?? '(no message)'}${details === undefined ? '' : ` (${details})`}${cniCode === undefined ? '' : ` [CNI error code ${cniCode}]`}`
  } else {
    const quoted = stderr.trim() || stdout.trim()
    text = quoted === '' ? `it ${how} without a message` : quoted.length > MAX_QUOTED_STDERR ? `…${quoted.slice(-MAX_QUOTED_STDERR)}` : quoted
  }
  const where = run.network === undefined ? '' : ` on network ${run.network}`
  return new CniError(errorCodeOfCniCode(cniCode), `CNI plugin ${run.plugin} failed ${run.command}${where}: ${text}`, {
    plugin: run.plugin,
    command: run.command,
    network: run.network,
    cniCode,
    msg,
    details,
  })
}
