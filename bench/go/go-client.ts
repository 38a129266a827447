/**
 * containerd's own Go client doing section 4's pull (bench/go/go-pull/main.go) and section 6's lifecycle
 * (bench/go/go-lifecycle/main.go) in one process: the references the issues set. Built here from Debian's packaged sources:
 * `apt-get install golang-go golang-github-containerd-containerd-dev` (Go 1.19 and containerd 1.6's client,
 * GOPATH mode, no network). When they are not installed the comparison is skipped, saying why.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { median } from '../lib/stats.js'

const run = promisify(execFile)

/** Where Debian's golang-*-dev packages put their sources. */
const GOPATH = '/usr/share/gocode'
const CONTAINERD_SOURCE = join(GOPATH, 'src/github.com/containerd/containerd/client.go')

/** What the Go client measured. */
export interface GoLifecycle {
  /** Median ms per lifecycle, one after another (its first, which connects, left out). */
  sequentialMedianMs: number
  /** Median over rounds of (round wall time / containers in it). */
  concurrentMedianMs: number
}

/**
 * Builds one of the Go programs (`bench/go/<name>/main.go`, beside this file) into `workDir`; undefined (with the reason printed)
 * when it cannot be built.
 */
export async function buildGoProgram(name: 'go-lifecycle' | 'go-pull', workDir: string): Promise<string | undefined> {
  if (!existsSync(CONTAINERD_SOURCE)) {
    console.log(`(Go client row skipped: install golang-go and golang-github-containerd-containerd-dev to build ${name}.)`)
    return undefined
  }
  const dir = join(workDir, name)
  await mkdir(dir, { recursive: true })
  const binary = join(dir, name)
  try {
    await run('go', ['build', '-o', binary, new URL(`./${name}/main.go`, import.meta.url).pathname], {
      env: { ...process.env, GO111MODULE: 'off', GOPATH, GOCACHE: join(dir, 'cache'), GOFLAGS: '' },
      timeout: 300_000,
    })
  } catch (err) {
    console.log(`(Go client row skipped: building it failed: ${(err as Error).message.split('\n')[0]})`)
    return undefined
  }
  return binary
}

async function runGo(binary: string, args: string[]): Promise<number[]> {
  const { stdout } = await run(binary, args, { timeout: 600_000 })
  return (JSON.parse(stdout) as { ms: number[] }).ms
}

/** Section 4 by the Go client: connect + pull + unpack of `reference` from a plain-HTTP registry, ms. */
export async function goPull(binary: string, address: string, namespace: string, reference: string): Promise<number> {
  const { stdout } = await run(binary, [address, namespace, reference], { timeout: 600_000 })
  return (JSON.parse(stdout) as { ms: number }).ms
}

/** Runs the Go client's lifecycles: `sequential` in a row (+1 warm-up), then `rounds` × `concurrent` at once. */
export async function goLifecycle(
  binary: string,
  target: { address: string; namespace: string; image: string },
  counts: { sequential: number; concurrent: number; rounds: number },
): Promise<GoLifecycle> {
  const base = [target.address, target.namespace, target.image]
  const sequential = (await runGo(binary, [...base, String(counts.sequential + 1), 'sequential'])).slice(1)
  const concurrent: number[] = []
  for (let r = 0; r < counts.rounds; r++) concurrent.push(...(await runGo(binary, [...base, String(counts.concurrent), 'concurrent'])))
  return { sequentialMedianMs: median(sequential), concurrentMedianMs: median(concurrent) }
}
