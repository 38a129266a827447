import { statfs } from 'node:fs/promises'

// statfs f_type of a network namespace file: nsfs (Linux 3.19 and later), or procfs before that,
// when /proc/<pid>/ns/net was a proc inode. The plugins' own check (ns.GetNS) accepts the same two.
const NSFS_MAGIC = 0x6e736673
const PROC_SUPER_MAGIC = 0x9fa0

/**
 * The `CNI_NETNS` to give a DEL: the path when it still is a network namespace, else the empty string.
 * The spec lets a runtime pass an empty netns on DEL when the namespace is gone, and plugins then
 * release what they hold on the host (IP reservations, iptables rules) instead of failing on a path that
 * no longer exists, or on a bind-mount target left as a plain file after `umount` (nerdctl #1872). A
 * path whose state cannot be told (permission denied) is passed on: the plugin reports what it finds.
 */
export async function netnsForDel(path: string): Promise<string> {
  if (path === '') return ''
  try {
    const { type } = await statfs(path)
    return type === NSFS_MAGIC || type === PROC_SUPER_MAGIC ? path : ''
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ESRCH' ? '' : path
  }
}
