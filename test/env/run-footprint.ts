import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Client } from '../../src/index.js'

/** What a `run()` could leave behind: containers, snapshots, name entries and state dirs. */
export interface RunFootprint {
  containers: string[]
  snapshots: number
  names: string[]
  stateDirs: string[]
}

/** Lists what a run could leave in the client's namespace and data store, to compare before and after a failure. */
export async function runFootprint(client: Client): Promise<RunFootprint> {
  let snapshots = 0
  for await (const _ of client.snapshots().list()) snapshots++
  const list = async (dir: string): Promise<string[]> => (existsSync(dir) ? (await readdir(dir)).sort() : [])
  return {
    containers: (await client.containers.list()).map((c) => c.id).sort(),
    snapshots,
    names: await list(join(client.dataStore, 'names', client.namespace)),
    stateDirs: await list(join(client.dataStore, 'containers', client.namespace)),
  }
}
