import { constants, statSync } from 'node:fs'
import { access } from 'node:fs/promises'
import type { ClientCore } from '../client/client.js'

/**
 * Fast output for a task's init process: instead of FIFOs, which the shim feeds by copying the
 * process's pipes 32 KiB at a time (400–500 MB/s here), stdout and stderr use the shim's `binary://`
 * scheme. The shim then gives the process plain pipes and hands their read ends to a program of ours,
 * the holder, which only enlarges them to 1 MiB (fewer wake-ups between writer and reader), says it is
 * ready and waits without reading. This process opens its own read ends of the same pipes through
 * `/proc/<pid>/fd/1` and `/2` of the created (not yet started) process and reads them directly.
 *
 * The holder is perl (Debian's perl-base is Essential), run by the shim as
 * `perl -e <script>`: fds 3 and 4 are the pipes, fd 5 the readiness pipe. It exits when the shim sends
 * SIGTERM at task delete, or when the shim is gone (its parent changes).
 */
const PERL = '/usr/bin/perl'
/** fcntl(2) command to resize a pipe. */
const F_SETPIPE_SZ = 1031
/** Pipe size asked for: /proc/sys/fs/pipe-max-size's default, and enough to let writer and reader run apart. */
const PIPE_BYTES = 1024 * 1024

/** In the holder's command line, so the holder can be told from the shim's other children. */
export const HOLDER_MARKER = 'containerd-sdk output holder'

const HOLDER_SCRIPT = [
  `open(my $o, '<&=', 3); open(my $e, '<&=', 4);`,
  `fcntl($o, ${F_SETPIPE_SZ}, ${PIPE_BYTES}); fcntl($e, ${F_SETPIPE_SZ}, ${PIPE_BYTES});`,
  `open(my $r, '>&=', 5); syswrite($r, 'r'); close($r);`,
  `my $p = getppid(); sleep 1 while getppid() == $p;`,
  `# ${HOLDER_MARKER}`,
].join(' ')

/** The stdout/stderr URI of a task whose output is read directly; also how a later client recognises one. */
export const OUTPUT_HOLDER_URI = `binary://${PERL}?-e=${encodeURIComponent(HOLDER_SCRIPT)}`

const availability = new Map<string, Promise<boolean>>()

/**
 * Whether direct output can work with this daemon: this process is root (to open another process's fds),
 * perl is there for the holder, and the daemon is not in another pid namespace (containerd ≥ 1.7 says
 * which it is in; with 1.6 each task's pipes are checked against its holder before use, see
 * direct-output.ts). Asked once per daemon address.
 */
export function directOutputAvailable(client: ClientCore): Promise<boolean> {
  let known = availability.get(client.address)
  if (known === undefined) {
    known = checkAvailable(client)
    availability.set(client.address, known)
    // A failed check (daemon not reachable yet) is not remembered: the next task asks again.
    known.catch(() => availability.delete(client.address))
  }
  return known.catch(() => false)
}

async function checkAvailable(client: ClientCore): Promise<boolean> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false
  try {
    await access(PERL, constants.X_OK)
  } catch {
    return false
  }
  const { pidns } = await client.introspection.server()
  return pidns === 0 || pidns === statSync('/proc/self/ns/pid').ino
}

/** Remembers that direct output failed with this daemon, so its next tasks use FIFOs. */
export function markDirectOutputUnavailable(client: ClientCore): void {
  availability.set(client.address, Promise.resolve(false))
}

/** Direct output failed for a reason of its own (not the task's); the task was undone, retry with FIFOs. */
export class DirectOutputFailure extends Error {
  constructor(readonly original: unknown) {
    super(`direct output failed: ${original instanceof Error ? original.message : String(original)}`)
    this.name = 'DirectOutputFailure'
  }
}

/** The shim's errors when a `binary://` program cannot be started or does not report ready. */
export function isHolderStartFailure(err: unknown): boolean {
  return err instanceof Error && /failed to (start binary process|read from logging binary)|logging binary/.test(err.message)
}
