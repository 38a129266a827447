/**
 * The host's neighbour entries (ARP, NDP) for a container's addresses on a bridge, forgotten when the
 * container leaves it.
 *
 * host-local hands a released address to a later container, whose interface has a new random MAC. The
 * host's entry for the address still names the old MAC, and until the kernel re-probes (seconds: a
 * DELAY, then unicast probes to the old MAC) the host's packets to the address, published ports
 * included, go to a MAC no port of the bridge has: connections hang in SYN-SENT. The `bridge` plugin's
 * one gratuitous ARP at ADD does not always correct it (seen under load, when many containers come and
 * go). Docker avoids it with MACs derived from the address; CNI picks the address inside the plugin, so
 * the entry is flushed at DEL instead: the next owner of the address starts from a fresh resolution.
 */

import { containerAddresses, type CniResult } from './cni-result.js'
import { runCleanupCommands } from './masquerade-cleanup.js'
import type { CniPluginConfig } from './network-config.js'

/** Whether the host shares a link with the container's interface (a `bridge` plugin), so keeps neighbour entries for it. */
export function sharesLinkWithHost(plugin: CniPluginConfig): boolean {
  return plugin.type === 'bridge'
}

/** The `ip` invocations that flush the host's neighbour entries for the container's addresses. */
export function neighbourFlushCommands(result: CniResult, ifName: string): string[][] {
  const { ipv4, ipv6 } = containerAddresses(result, ifName)
  return [...ipv4.map(({ ip }) => ['-4', 'neigh', 'flush', 'to', ip]), ...ipv6.map(({ ip }) => ['-6', 'neigh', 'flush', 'to', ip])]
}

/** Runs {@link neighbourFlushCommands}, bounded by `deadline`; best effort (see runCleanupCommands). */
export async function flushNeighbours(result: CniResult, ifName: string, deadline: number): Promise<void> {
  await runCleanupCommands(neighbourFlushCommands(result, ifName).map((args) => ({ tool: 'ip', args })), deadline)
}
