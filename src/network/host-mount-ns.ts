/**
 * Network namespaces are bind-mounted where runc will look for them: containerd's mount namespace. A
 * process of ours in a private mount namespace of its own (a systemd unit with `PrivateMounts=`,
 * `unshare --mount`, a sandbox) would otherwise make mounts only it sees: runc then joins an empty file
 * and fails ("can't get final child's PID from pipe"). So when containerd's mount namespace is not this
 * process's, the mounting tools and the CNI plugins (which enter the namespace by path) run in
 * containerd's, through util-linux's `nsenter -t <containerd's pid> -m` (which enters it and execs the
 * program: same pid, stdio and environment).
 *
 * containerd's pid is found from its socket: the socket's inode in /proc/net/unix, then the process
 * holding that inode among /proc/<pid>/fd. Done once per socket and process; a few milliseconds.
 */

import { readdir, readFile, readlink } from 'node:fs/promises'

const prefixes = new Map<string, Promise<readonly string[]>>()
let current: readonly string[] = []

/**
 * Finds out (once per socket) whether containerd at `socketPath` runs in another mount namespace, and
 * makes {@link inHostMountNamespace} enter it from now on. Never fails: when it cannot be told, tools
 * run in this process's namespace, as before.
 */
export async function useMountNamespaceOf(socketPath: string): Promise<void> {
  let found = prefixes.get(socketPath)
  if (found === undefined) {
    found = findPrefix(socketPath).catch(() => [])
    prefixes.set(socketPath, found)
  }
  current = await found
}

/** `[command, args]` to spawn so that `program args…` runs in containerd's mount namespace. */
export function inHostMountNamespace(program: string, args: readonly string[]): [string, string[]] {
  return current.length === 0 ? [program, [...args]] : [current[0] as string, [...current.slice(1), program, ...args]]
}

async function findPrefix(socketPath: string): Promise<readonly string[]> {
  const pid = await socketOwner(socketPath)
  if (pid === undefined) return []
  const [mine, theirs] = await Promise.all([readlink('/proc/self/ns/mnt'), readlink(`/proc/${pid}/ns/mnt`)])
  return mine === theirs ? [] : ['nsenter', '-t', String(pid), '-m', '--']
}

/** The pid of the process listening on a unix socket path, from /proc; undefined when not found. */
async function socketOwner(socketPath: string): Promise<number | undefined> {
  const table = await readFile('/proc/net/unix', 'utf8')
  // Columns: Num RefCount Protocol Flags Type St Inode Path; a listening socket has flag __SO_ACCEPTCON.
  const inodes = new Set<string>()
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/)
    if (cols[7] === socketPath && cols[3] === '00010000') inodes.add(cols[6] as string)
  }
  if (inodes.size === 0) return undefined
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [])
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1]
      if (inode !== undefined && inodes.has(inode)) return Number(pid)
    }
  }
  return undefined
}
