/**
 * The CNI configuration shapes (CNI spec 1.0.0 §"Configuration format"), as they are written in a
 * `.conflist` file: a named network of chained plugins. Plugin-specific keys pass through untouched.
 */

/** One plugin in a network's chain: its `type` names the binary; the rest is the plugin's own config. */
export interface CniPluginConfig {
  /** The plugin binary's name (`bridge`, `portmap`, `firewall`, …), looked up in the plugin directories. */
  type: string
  /** Capabilities the plugin declares (`portMappings`, `ips`, `mac`, …): only these get runtime args. */
  capabilities?: Record<string, boolean>
  /** Plugin-specific settings. */
  [key: string]: unknown
}

/** A network configuration list (a `.conflist` file). */
export interface NetworkConfigList {
  /** The CNI spec version the list is written for (`1.0.0`, `0.4.0`, `0.3.1`). */
  cniVersion: string
  /** The network's name: it keys the plugins' state (host-local's IP files, cached results). */
  name: string
  /** The chain, run in order on ADD and in reverse on DEL. */
  plugins: CniPluginConfig[]
  /** Skips CHECK for this network. */
  disableCheck?: boolean
  /** Other keys (nerdctl writes `nerdctlID` and `nerdctlLabels`). */
  [key: string]: unknown
}
