import { execFile } from 'node:child_process'

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** Kill the tool (SIGKILL) after this long. Default 30 s. */
  readonly timeoutMs?: number
  /** Written to the tool's stdin, e.g. a password that must not appear on its command line. */
  readonly input?: string | Buffer
  /** Extra environment on top of the test process's. */
  readonly env?: Readonly<Record<string, string>>
  /** Working directory. */
  readonly cwd?: string
}

/** What a tool printed. */
export interface ToolOutput {
  readonly stdout: Buffer
  readonly stderr: string
}

/**
 * Runs a command-line tool (openssl, htpasswd, skopeo) with a hard time limit and returns its output.
 * A failure message names the program and its stderr but never its arguments: callers keep secrets out
 * of argv anyway, and this keeps a mistake from reaching a test log.
 */
export function runTool(file: string, args: readonly string[], options: RunToolOptions = {}): Promise<ToolOutput> {
  const timeoutMs = options.timeoutMs ?? 30_000
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        encoding: 'buffer',
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, ...options.env },
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      },
      (err, stdout, stderr) => {
        const errText = stderr.toString('utf8')
        if (err === null) {
          resolve({ stdout, stderr: errText })
          return
        }
        const killed = 'killed' in err && err.killed === true
        const how = killed ? `was killed after ${timeoutMs} ms` : `failed (${'code' in err ? String(err.code) : 'error'})`
        reject(new ToolError(`${file} ${args[0] ?? ''} ${how}: ${errText.trim().slice(-2_000)}`, errText))
      },
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
    else child.stdin?.end()
  })
}

/** A tool that exited non-zero or timed out; `stderr` holds what it printed. */
export class ToolError extends Error {
  override readonly name = 'ToolError'
  constructor(
    message: string,
    /** The tool's stderr. */
    readonly stderr: string,
  ) {
    super(message)
  }
}
