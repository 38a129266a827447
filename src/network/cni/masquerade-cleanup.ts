/**
 * The masquerade rules `bridge` (and `ptp`) leave when DEL runs without the container's namespace.
 *
 * With `ipMasq`, ADD adds a per-container nat chain `CNI-<hash>` and a POSTROUTING rule
 * `-s <container IP> -j CNI-<hash>` commented `name: "<network>" id: "<container>"`. DEL finds the IPs to
 * un-masquerade on the container's interface, so when the namespace is already gone (CNI_NETNS empty, a
 * killed container) the plugin releases the IP but leaves the rules, for ever (nerdctl #2699, #3253). The
 * runner then removes them itself, from the cached ADD result, exactly as the plugin's teardown would.
 */

import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { debuglog } from 'node:util'
import type { CniResult } from './cni-result.js'
import { containerAddresses } from './cni-result.js'
import type { CniPluginConfig } from './network-config.js'
import { pluginPathVariable } from './plugin-exec.js'

const debug = debuglog('containerd-sdk:cni')

// The plugins whose DEL derives the masquerade rules from the container's interface.
const MASQUERADING_PLUGINS = new Set(['bridge', 'ptp'])

/** The per-container nat chain of `ipMasq` (the plugins' `utils.FormatChainName`): `CNI-` + 24 hex of sha512(network + id). */
export function masqueradeChain(network: string, containerId: string): string {
  return `CNI-${createHash('sha512').update(network + containerId).digest('hex').slice(0, 24)}`
}

/** The comment on the masquerade rules (the plugins' `utils.FormatComment`). */
export function masqueradeComment(network: string, containerId: string): string {
  return `name: "${network}" id: "${containerId}"`
}

/**
 * Whether `plugin` masquerades with iptables rules that its DEL cannot remove without the namespace:
 * `bridge` or `ptp` with `ipMasq`, on the iptables backend (the default; the nftables backend of newer
 * plugins keys its rules on the container id and needs no help).
 */
export function leavesMasquerade(plugin: CniPluginConfig): boolean {
  const backend = plugin['ipMasqBackend']
  return MASQUERADING_PLUGINS.has(plugin.type) && plugin['ipMasq'] === true && (backend === undefined || backend === 'iptables')
}

/**
 * The iptables commands that remove the masquerade of the container's addresses: per address, the
 * POSTROUTING jump (v4 with iptables, v6 with ip6tables); then per family the chain (flush, delete).
 */
export function masqueradeTeardown(network: string, containerId: string, ifName: string, result: CniResult): Array<{ tool: 'iptables' | 'ip6tables'; args: string[] }> {
  const chain = masqueradeChain(network, containerId)
  const comment = masqueradeComment(network, containerId)
  const { ipv4, ipv6 } = containerAddresses(result, ifName)
  const commands: Array<{ tool: 'iptables' | 'ip6tables'; args: string[] }> = []
  for (const [tool, addresses, bits] of [['iptables', ipv4, 32], ['ip6tables', ipv6, 128]] as const) {
    if (addresses.length === 0) continue
    // -w: wait for the xtables lock that plugins of concurrent runs hold, instead of failing.
    for (const { ip } of addresses) commands.push({ tool, args: ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-s', `${ip}/${bits}`, '-j', chain, '-m', 'comment', '--comment', comment] })
    commands.push({ tool, args: ['-w', '-t', 'nat', '-F', chain] }, { tool, args: ['-w', '-t', 'nat', '-X', chain] })
  }
  return commands
}

/**
 * Runs {@link masqueradeTeardown}'s commands (see {@link runCleanupCommands}): cleanup after the plugins'
 * own DEL succeeded, never a reason to fail it.
 */
export async function removeMasquerade(network: string, containerId: string, ifName: string, result: CniResult, deadline: number): Promise<void> {
  await runCleanupCommands(masqueradeTeardown(network, containerId, ifName, result), deadline)
}

/**
 * Runs host commands the runner adds to a DEL, in order, each bounded by what is left until `deadline`
 * (`performance.now()` ms), with the plugins' PATH. A command that fails (a rule already gone, a tool
 * missing) is logged to NODE_DEBUG=containerd-sdk:cni and the next one runs.
 */
export async function runCleanupCommands(commands: ReadonlyArray<{ tool: string; args: string[] }>, deadline: number): Promise<void> {
  const env = { PATH: pluginPathVariable(process.env['PATH']) }
  for (const { tool, args } of commands) {
    const timeout = Math.floor(deadline - performance.now())
    if (timeout <= 0) return
    await new Promise<void>((resolve) => {
      execFile(tool, args, { env, timeout, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 }, (err, _stdout, stderr) => {
        if (err !== null) debug('%s %s: %s', tool, args.join(' '), String(stderr).trim() || err.message)
        resolve()
      })
    })
  }
}
