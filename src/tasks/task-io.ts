import { InvalidArgumentError } from '../client/errors.js'

/**
 * Where a task's stdio goes. `'null'`: nowhere (stdin closed). `{ logFile }`: stdout and stderr appended
 * to a file on the daemon's host (containerd's `file://` log URI), stdin closed. Streams, terminals and
 * the json-file logger come with the containers and tasks issue.
 */
export type TaskStdio = 'null' | LogFileStdio

/** stdout and stderr appended to one file. */
export interface LogFileStdio {
  /** Absolute path of the file, on the daemon's host. */
  logFile: string
}

/** The stdio URIs for CreateTaskRequest and what to clean up after the task is deleted. */
export interface TaskIo {
  stdin: string
  stdout: string
  stderr: string
  close: () => Promise<void>
}

/** Resolves a {@link TaskStdio} into the URIs containerd's shim understands. */
export async function taskIo(stdio: TaskStdio): Promise<TaskIo> {
  const none = async (): Promise<void> => undefined
  if (stdio === 'null') return { stdin: '', stdout: '', stderr: '', close: none }
  if (!stdio.logFile.startsWith('/')) throw new InvalidArgumentError(`logFile must be an absolute path, got ${stdio.logFile}`)
  const uri = `file://${stdio.logFile}`
  return { stdin: '', stdout: uri, stderr: uri, close: none }
}
