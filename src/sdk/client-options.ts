import type { ConnectOptions } from '../client/client-options.js'
import type { ContainerLogsOptions } from '../logs/container-logs.js'

/** Options of `Client.connect`: the connection, plus where nerdctl-style metadata lives. */
export interface ClientOptions extends ConnectOptions {
  /**
   * nerdctl's data root (`nerdctl --data-root`): names, state dirs and json logs of `run()` containers go
   * in its data store for this socket, where nerdctl finds them too. Default `/var/lib/nerdctl`.
   */
  dataRoot?: string
}

/** Options of `client.logs()`: `ContainerLogsOptions` without the data store (the client knows it). */
export type LogsOptions = Omit<ContainerLogsOptions, 'dataStore'>
