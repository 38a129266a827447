/**
 * containerd's own Go client doing section 1's unary calls (bench/go/go-unary/main.go), section 4's pull
 * (bench/go/go-pull/main.go) and section 6's lifecycle (bench/go/go-lifecycle/main.go) in one process: the
 * references the issues set, measured in the same run as ours. Built here from Debian's packaged sources:
 * `apt-get install golang-go golang-github-containerd-containerd-dev` (Go 1.19 and containerd 1.6's client,
 * GOPATH mode, no network). When they are not installed the comparison is skipped, saying why.
 */
import { execFile, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { BlockCall } from '../lib/interleaved-sampler.js'
import { median } from '../lib/stats.js'

const run = promisify(execFile)

/** Where Debian's golang-*-dev packages put their sources. */
const GOPATH = '/usr/share/gocode'
const CONTAINERD_SOURCE = join(GOPATH, 'src/github.com/containerd/containerd/client.go')
// Go's build cache, kept across runs: compiling containerd's client from source takes minutes the first
// time on this machine kind, seconds afterwards.
const GOCACHE = join(tmpdir(), 'containerd-sdk-bench-gocache')

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
export async function buildGoProgram(name: 'go-lifecycle' | 'go-pull' | 'go-unary', workDir: string): Promise<string | undefined> {
  if (!existsSync(CONTAINERD_SOURCE)) {
    console.log(`(Go client row skipped: install golang-go and golang-github-containerd-containerd-dev to build ${name}.)`)
    return undefined
  }
  const dir = join(workDir, name)
  await mkdir(dir, { recursive: true })
  const binary = join(dir, name)
  try {
    await run('go', ['build', '-o', binary, new URL(`./${name}/main.go`, import.meta.url).pathname], {
      env: { ...process.env, GO111MODULE: 'off', GOPATH, GOCACHE, GOFLAGS: '' },
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
/**
 * One block of `go-lifecycle` runs: `count` lifecycles in a row (`sequential`: per-container ms, the first
 * one, the process's warm-up, dropped) or at once (`concurrent`: wall time / count), with `specPath` the
 * SDK's spec for the same container (same runc work) or, without it, the Go client's own spec.
 */
export async function goLifecycleBlock(
  binary: string,
  target: { address: string; namespace: string; image: string },
  count: number,
  mode: 'sequential' | 'concurrent',
  specPath?: string,
): Promise<number[]> {
  const args = [target.address, target.namespace, target.image, String(mode === 'sequential' ? count + 1 : count), mode, ...(specPath !== undefined ? [specPath] : [])]
  const ms = await runGo(binary, args)
  return mode === 'sequential' ? ms.slice(1) : ms
}

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

/** The unary calls `go-unary` makes: `client.Version(ctx)` and `client.ContainerService().List(ctx)`. */
export type GoUnaryCall = 'version' | 'list'

/**
 * One `go-unary` process connected once to containerd, taking blocks of calls on its stdin (so the bench can
 * interleave them with its own clients' blocks): each block's per-call latencies are timed inside the Go
 * process, as ours are timed inside this one.
 */
export interface GoUnarySession {
  /** A {@link BlockCall} for the sampler: `count` calls of `call` in a row. */
  block(call: GoUnaryCall): BlockCall
  /** Ends the process (stdin closed, then SIGKILL if it lingers). Idempotent. */
  close(): void
}

/** Starts `go-unary` (built by {@link buildGoProgram}) against `address`, in `namespace`. */
export function startGoUnary(binary: string, address: string, namespace: string): GoUnarySession {
  const child = spawn(binary, [address, namespace], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  // One answer line per command line, in order: the waiting blocks are resolved first come first served.
  const waiting: { resolve: (us: number[]) => void; reject: (err: Error) => void }[] = []
  let exited: Error | undefined
  const failAll = (err: Error): void => {
    exited ??= err
    for (const w of waiting.splice(0)) w.reject(err)
  }
  createInterface({ input: child.stdout }).on('line', (line) => {
    const w = waiting.shift()
    if (w === undefined) return
    try {
      w.resolve((JSON.parse(line) as { us: number[] }).us)
    } catch (err) {
      w.reject(new Error(`go-unary printed ${JSON.stringify(line)}: ${String(err)}`))
    }
  })
  child.on('error', (err) => failAll(err))
  child.on('exit', (code, signal) => failAll(new Error(`go-unary exited (${signal ?? code ?? '?'}): ${stderr.trim()}`)))
  let closed = false
  return {
    block: (call) => ({
      runBlock: (count) => new Promise<number[]>((resolve, reject) => {
        if (exited !== undefined) return reject(exited)
        waiting.push({ resolve, reject })
        child.stdin.write(`${call} ${count}\n`)
      }),
    }),
    close: () => {
      if (closed) return
      closed = true
      child.stdin.end()
      setTimeout(() => child.kill('SIGKILL'), 2000).unref()
    },
  }
}
