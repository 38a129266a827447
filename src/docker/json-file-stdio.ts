import type { ClientCore } from '../client/client.js'
import type { CallOptions } from '../grpc/call-options.js'
import { prepareJsonFileLog, type JsonFileLogOptions } from '../logs/log-config.js'
import { jsonFileLogUri } from '../logs/logger-uri.js'
import type { LogUriStdio } from '../tasks/task-io.js'
import { patchContainerLabels } from '../containers/container-labels.js'
import { dataStorePath } from '../nerdctl/data-store.js'
import { NerdctlLabel } from '../nerdctl/labels.js'

/**
 * A task's stdout and stderr written by the json-file logger shipped in this package, in nerdctl's format
 * and place (`<data store>/containers/<namespace>/<id>/<id>-json.log`), rotated by `maxSize`/`maxFile`;
 * read it back with `client.logs()` or `readLogs()`. Nothing in this process needs to keep running.
 */
export interface JsonFileStdio {
  /** Rotation (`maxSize`, `maxFile`) and where the log goes. */
  jsonFile: JsonFileLogOptions & {
    /** The data store. Default: the client's (nerdctl's for this socket under the client's `dataRoot`). */
    dataStore?: string
  }
}

/**
 * Prepares the container's log dir and config, and returns the `binary://` stdio for its task. A
 * container without nerdctl metadata gets the `nerdctl/namespace` and `nerdctl/state-dir` labels, so
 * that `delete()` removes the state dir with its log, and nerdctl finds the log.
 */
export async function jsonFileStdio(client: ClientCore, id: string, labels: Readonly<Record<string, string>>, stdio: JsonFileStdio, options: CallOptions = {}): Promise<LogUriStdio> {
  const { dataStore = dataStorePath(client.address, client.dataRoot), ...rotation } = stdio.jsonFile
  const { stateDir } = await prepareJsonFileLog({ ...rotation, dataStore, namespace: client.namespace, id })
  const logUri = jsonFileLogUri({ dataStore })
  if (labels[NerdctlLabel.stateDir] === undefined) {
    await patchContainerLabels(client, id, { [NerdctlLabel.namespace]: client.namespace, [NerdctlLabel.stateDir]: stateDir, [NerdctlLabel.logUri]: logUri }, options)
  }
  return { logUri }
}
