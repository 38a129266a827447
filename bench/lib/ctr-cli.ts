/**
 * Runs containerd's own `ctr` as the Go reference for streaming. Its wall-clock time includes starting the
 * process and connecting (measured separately as `startupMs`), which is what a user of the tool pays too.
 */
import { spawn } from 'node:child_process'
import { open, type FileHandle } from 'node:fs/promises'
import { CTR_PATH } from './bench-config.js'
import { nowUs } from './stats.js'

export interface CtrIo {
  /** A file to feed on stdin. */
  stdinFile?: string
  /** Send stdout to /dev/null (else it is ignored). */
  discardStdout?: boolean
  /** Kill `ctr` after this long. Default 5 minutes. */
  timeoutMs?: number
}

export interface Ctr {
  /** Runs `ctr --address … -n … <args>` and resolves with its wall-clock time in microseconds. */
  run(args: readonly string[], io?: CtrIo): Promise<number>
}

export function createCtr(address: string, namespace: string): Ctr {
  return {
    run: async (args, io = {}) => {
      const handles: FileHandle[] = []
      const openFd = async (path: string, flags: string): Promise<number> => {
        const handle = await open(path, flags)
        handles.push(handle)
        return handle.fd
      }
      try {
        const stdin = io.stdinFile === undefined ? 'ignore' : await openFd(io.stdinFile, 'r')
        const stdout = io.discardStdout === true ? await openFd('/dev/null', 'w') : 'ignore'
        return await spawnTimed(['--address', address, '-n', namespace, ...args], [stdin, stdout], io.timeoutMs ?? 300_000)
      } finally {
        for (const handle of handles) await handle.close()
      }
    },
  }
}

function spawnTimed(args: string[], stdio: [number | 'ignore', number | 'ignore'], timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const start = nowUs()
    const child = spawn(CTR_PATH, args, { stdio: [stdio[0], stdio[1], 'pipe'] })
    let stderr = ''
    child.stderr?.setEncoding('utf8')
    child.stderr?.on('data', (text: string) => {
      if (stderr.length < 4096) stderr += text
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const elapsed = nowUs() - start
      if (code === 0) resolve(elapsed)
      else reject(new Error(`ctr ${args.slice(4).join(' ')} failed (${code ?? signal}): ${stderr.trim()}`))
    })
  })
}
