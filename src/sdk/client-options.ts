import type { ContainerLogsOptions } from '../logs/container-logs.js'

/** Options of `client.logs()`: `ContainerLogsOptions` without the data store (the client knows it). */
export type LogsOptions = Omit<ContainerLogsOptions, 'dataStore'>
