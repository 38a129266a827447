import { InvalidArgumentError } from '../grpc/errors.js'

/**
 * What `run({ network })` asks for, nerdctl's `--network` values:
 * - `none`: a network namespace with only loopback;
 * - `host`: the host's network;
 * - `container:<name|id>`: the network namespace (and hosts, resolv.conf, hostname) of another container;
 * - `ns:<path>`: an existing network namespace, bind-mounted at `path`;
 * - anything else names networks (`bridge` is the default one), joined in order: `eth0`, `eth1`, ….
 */
export type NetworkChoice =
  | { kind: 'none' }
  | { kind: 'host' }
  | { kind: 'container'; target: string }
  | { kind: 'ns'; path: string }
  | { kind: 'networks'; names: string[] }

/** The network a `run()` container gets when none is named: nerdctl's (and Docker's) default bridge. */
export const DEFAULT_NETWORK = 'bridge'

/**
 * Reads `run()`'s `network` option. `none`, `host`, `container:` and `ns:` stand alone; network names
 * may be listed (each once).
 * @throws InvalidArgumentError for an empty value, a mode combined with others, or a name twice.
 */
export function parseNetworkOption(value: string | readonly string[] | undefined): NetworkChoice {
  const values = value === undefined ? [DEFAULT_NETWORK] : typeof value === 'string' ? [value] : [...value]
  if (values.length === 0) throw new InvalidArgumentError('network must name at least one network (or be none, host, container:<name> or ns:<path>)')
  for (const v of values) {
    if (typeof v !== 'string' || v === '') throw new InvalidArgumentError(`network must be a non-empty string or a list of them, got ${JSON.stringify(v)}`)
  }
  const special = values.find((v) => v === 'none' || v === 'host' || v.startsWith('container:') || v.startsWith('ns:'))
  if (special !== undefined) {
    if (values.length > 1) throw new InvalidArgumentError(`network ${JSON.stringify(special)} cannot be combined with other networks (${values.join(', ')})`)
    if (special === 'none') return { kind: 'none' }
    if (special === 'host') return { kind: 'host' }
    if (special.startsWith('container:')) {
      const target = special.slice('container:'.length)
      if (target === '') throw new InvalidArgumentError('network "container:" needs a container name or id: container:<name|id>')
      return { kind: 'container', target }
    }
    const path = special.slice('ns:'.length)
    if (!path.startsWith('/')) throw new InvalidArgumentError(`network "ns:" needs an absolute path to a network namespace, got ${JSON.stringify(path)}`)
    return { kind: 'ns', path }
  }
  const seen = new Set<string>()
  for (const name of values) {
    if (seen.has(name)) throw new InvalidArgumentError(`network ${JSON.stringify(name)} is listed twice`)
    seen.add(name)
  }
  return { kind: 'networks', names: values }
}

/** The `nerdctl/networks` label's entries for a choice (nerdctl records the mode, or the names). */
export function networkLabelValues(choice: NetworkChoice, targetId?: string): string[] {
  switch (choice.kind) {
    case 'none':
    case 'host':
      return [choice.kind]
    case 'container':
      return [`container:${targetId ?? choice.target}`]
    case 'ns':
      return [`ns:${choice.path}`]
    case 'networks':
      return choice.names
  }
}
