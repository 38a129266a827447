import { NotFoundError, type ClientCore, type Container } from '../../src/index.js'
import { RESTART_LABELS } from '../../src/containers/restart-policy.js'
import type { Status } from '../../src/gen/containerd/types/task/task_pb.js'

/** A container's task as containerd reports it, or undefined when it has none. */
export async function taskState(client: ClientCore, id: string): Promise<{ pid: number; status: Status; exitStatus: number } | undefined> {
  try {
    const { process } = await client.services.tasks.get({ containerId: id })
    return process === undefined ? undefined : { pid: process.pid, status: process.status, exitStatus: process.exitStatus }
  } catch (err) {
    if (err instanceof NotFoundError) return undefined
    throw err
  }
}

/** Takes the container away from the restart monitor first, so it cannot bring a task back between the deletes. */
export async function removeManaged(container: Container): Promise<void> {
  await container.setLabels({ [RESTART_LABELS.status]: '' }).catch(() => undefined)
  try {
    await (await container.task()).delete({ force: true })
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
  }
  await container.delete()
}
