/**
 * CPU time from /proc, for section 4: on a 2-vCPU machine the pull's budget is CPU, shared by the pulling
 * process and containerd (which decompresses, hashes and writes every layer). Clock ticks are 1/100 s on Linux.
 */
import { readFile } from 'node:fs/promises'

const TICK_MS = 10

/** The fields of /proc/<pid>/stat after the command name (which may contain spaces and parentheses). */
async function statFields(pid: number | 'self'): Promise<string[]> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8')
  return text.slice(text.lastIndexOf(')') + 2).split(' ')
}

/** User + system CPU of a live process, ms. */
export async function processCpuMs(pid: number): Promise<number> {
  const f = await statFields(pid)
  // After the name: state is field 3, utime 14, stime 15 (1-based, man 5 proc) → indexes 11 and 12.
  return (Number(f[11]) + Number(f[12])) * TICK_MS
}

/** User + system CPU of this process's reaped children (ctr runs, pull children), ms. */
export async function childrenCpuMs(): Promise<number> {
  const f = await statFields('self')
  // cutime 16, cstime 17 → indexes 13 and 14.
  return (Number(f[13]) + Number(f[14])) * TICK_MS
}
