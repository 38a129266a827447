/**
 * What a CNI container id still holds on the host when no cached ADD result says what its ADD did: a
 * process killed inside the plugin chain, before libcni's cache write. Then a DEL from the cache has
 * nothing to go on, so the leftovers are found by what names the id:
 * - host-local's address files (`<cacheDir>/networks/<network>/<address>`, first line the container id,
 *   second its interface): a DEL of that network on that interface releases them;
 * - nat rules commented `… id: "<container id>"` (bridge's masquerade jump, portmap's DNAT and SNAT
 *   jumps), with the per-container chains they jump to;
 * - filter rules of the firewall plugin's CNI-FORWARD chain for an address the id held (the plugin keys
 *   them on the address alone).
 */

import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { saveTable, splitSavedRule } from './iptables-save.js'
import { runCleanupCommands } from './masquerade-cleanup.js'

/** An address host-local holds for a container. */
export interface HeldAddress {
  /** The IPAM data dir's name: the network's name. */
  network: string
  /** The container's interface on it. */
  ifName: string
  /** The address (the file's name). */
  address: string
}

/** The addresses host-local holds for `containerId` in `cacheDir` (its `networks/` data dirs). */
export async function heldAddresses(cacheDir: string, containerId: string): Promise<HeldAddress[]> {
  const root = join(cacheDir, 'networks')
  const held: HeldAddress[] = []
  for (const network of await readdir(root).catch(() => [])) {
    for (const file of await readdir(join(root, network)).catch(() => [])) {
      if (file === 'lock' || file.startsWith('last_reserved_ip')) continue
      const [owner, ifName] = (await readFile(join(root, network, file), 'utf8').catch(() => '')).split(/\r?\n/)
      if (owner === containerId) held.push({ network, ifName: ifName?.trim() || 'eth0', address: file })
    }
  }
  return held
}

/**
 * The commands removing what `iptables-save` output (`save`, one table) holds for the container: every
 * rule whose comment names the id, or (`addresses`) that matches one of its addresses as source or
 * destination in a `CNI-FORWARD`/`CNI-ADMIN` rule; then the per-container `CNI-…` chains those rules
 * jumped to (flushed, deleted), never the shared `CNI-HOSTPORT-*`, `CNI-FORWARD` or `CNI-ADMIN`.
 */
export function ownerRuleRemoval(save: string, table: 'nat' | 'filter', containerId: string, addresses: readonly string[]): string[][] {
  const idMark = `id: "${containerId}"`
  const removals: string[][] = []
  const chains = new Set<string>()
  for (const line of save.split('\n')) {
    if (!line.startsWith('-A ')) continue
    const args = splitSavedRule(line)
    const chain = args[1] ?? ''
    const comment = args[args.indexOf('--comment') + 1]
    const namesId = args.includes('--comment') && comment !== undefined && (comment.endsWith(idMark) || comment.includes(`${idMark} `))
    const onAddress = (chain === 'CNI-FORWARD' || chain === 'CNI-ADMIN') && addresses.some((a) => args.includes(`${a}/32`) || args.includes(`${a}/128`))
    if (!namesId && !onAddress) continue
    removals.push(['-w', '-t', table, '-D', ...args.slice(1)])
    const target = args[args.indexOf('-j') + 1]
    if (args.includes('-j') && target !== undefined && /^CNI-/.test(target) && !/^CNI-(HOSTPORT-|FORWARD$|ADMIN$)/.test(target)) chains.add(target)
  }
  for (const chain of chains) removals.push(['-w', '-t', table, '-F', chain], ['-w', '-t', table, '-X', chain])
  return removals
}

/**
 * Removes the container's rules ({@link ownerRuleRemoval}) from `table`, IPv4 and IPv6, best effort and
 * bounded by `deadline` (`performance.now()` ms).
 */
export async function removeOwnerRules(table: 'nat' | 'filter', containerId: string, addresses: readonly string[], deadline: number): Promise<void> {
  for (const [save, tool] of [['iptables-save', 'iptables'], ['ip6tables-save', 'ip6tables']] as const) {
    const timeout = Math.floor(deadline - performance.now())
    if (timeout <= 0) return
    const text = await saveTable(save, table, timeout)
    await runCleanupCommands(ownerRuleRemoval(text, table, containerId, addresses).map((args) => ({ tool, args })), deadline)
  }
}
