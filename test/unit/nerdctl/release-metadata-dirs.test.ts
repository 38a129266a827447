import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { containerStateDir } from '../../../src/nerdctl/data-store.js'
import { nerdctlLabels } from '../../../src/nerdctl/labels.js'
import { NameStore } from '../../../src/nerdctl/name-store.js'
import { releaseNerdctlMetadata } from '../../../src/nerdctl/release-metadata.js'
import { createStateDir } from '../../../src/nerdctl/state-dir.js'

const ID_A = 'a'.repeat(64)
const ID_B = 'b'.repeat(64)
let root: string | undefined
afterEach(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true })
  root = undefined
})

async function make(store: string, namespace: string, id: string, name: string): Promise<Record<string, string>> {
  const stateDir = containerStateDir(store, namespace, id)
  await createStateDir(stateDir)
  await new NameStore(store, namespace).acquire(name, id)
  return nerdctlLabels({ namespace, id, name, stateDir, networks: ['none'] })
}

describe('releaseNerdctlMetadata', () => {
  it('removes the per-namespace directories it empties, and only those', async () => {
    root = await mkdtemp(join(tmpdir(), 'csdk-release-'))
    const store = join(root, 'store')
    const a = await make(store, 'one', ID_A, 'first')
    const b = await make(store, 'two', ID_B, 'second')
    await writeFile(join(store, 'other-content'), 'kept')

    await releaseNerdctlMetadata(ID_A, a)
    // Namespace "two" still has a container: its directories (and containers/, names/) stay.
    expect((await readdir(join(store, 'containers'))).sort()).toEqual(['two'])
    expect((await readdir(join(store, 'names'))).sort()).toEqual(['two'])

    await releaseNerdctlMetadata(ID_B, b)
    expect((await readdir(store)).sort()).toEqual(['other-content'])
    expect(await readdir(root)).toEqual(['store'])

    // The store works as before afterwards: the directories come back on use.
    const again = await make(store, 'one', ID_A, 'first')
    expect(await new NameStore(store, 'one').get('first')).toBe(ID_A)
    await releaseNerdctlMetadata(ID_A, again)
    expect((await readdir(store)).sort()).toEqual(['other-content'])
  })

  it('a name acquired while the emptied name directory is removed is kept', async () => {
    root = await mkdtemp(join(tmpdir(), 'csdk-release-'))
    const store = join(root, 'store')
    const labels = await make(store, 'ns', ID_A, 'old')
    await Promise.all([releaseNerdctlMetadata(ID_A, labels), new NameStore(store, 'ns').acquire('new', ID_B)])
    expect(await new NameStore(store, 'ns').get('new')).toBe(ID_B)
  })
})
