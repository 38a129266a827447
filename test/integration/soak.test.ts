// The soak's CI version (issue: nothing lost under faults): 100 randomized lifecycles with injected
// faults (containerd SIGKILLed and restarted, client aborts, concurrent runs and pulls, a client process
// SIGKILLed) against a private containerd of the line under test, run by bench/soak/soak.ts in a child
// process; then nothing may be left after a user's sweep, no promise unhandled, no operation hung, and
// every failure typed. The seed is printed, so a failing run can be replayed with SOAK_SEED.
import { execFile } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { LEFTOVER_KINDS } from '../../bench/soak/leftovers.js'
// Type only: importing soak.ts itself would run the soak.
import type { LineFigures } from '../../bench/soak/soak.js'

const line = process.env['CSDK_CONTAINERD_LINE'] ?? 'external'

describe.skipIf(line !== '1.7' && line !== '2.x')('soak', () => {
  it('100 randomized lifecycles with faults leave nothing after a sweep, and every failure is typed', async () => {
    const seed = Number(process.env['SOAK_SEED'] ?? Math.floor(Math.random() * 2 ** 31))
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'bench/soak/soak.ts'],
        {
          env: { ...process.env, SOAK_ITERATIONS: '100', SOAK_SEED: String(seed), SOAK_LINES: line, SOAK_MAX_MINUTES: '6' },
          maxBuffer: 16 * 1024 * 1024,
          timeout: 9 * 60_000,
        },
        (err, stdout, stderr) => (err !== null ? reject(new Error(`soak (seed ${seed}) failed: ${err.message}\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`)) : resolve(stdout)),
      )
    })
    const last = output.trim().split('\n').at(-1) ?? ''
    expect(last.startsWith('SOAK_RESULT '), output.slice(-4000)).toBe(true)
    const { results } = JSON.parse(last.slice('SOAK_RESULT '.length)) as { results: LineFigures[] }
    const result = results[0]
    if (result === undefined) return expect.fail('the soak printed no result')
    // What the sweep left, fds aside (listed too when anything is left, and long enough to push the rest out).
    const leftLines = output.split('\n').filter((l) => (l.includes('left after the sweep: ') || l.includes('before a second prune: ')) && !l.includes('left after the sweep: fd '))
    const context = `seed ${seed}\n${leftLines.join('\n')}\n${output.slice(-3000)}`
    expect(result.iterations, context).toBeGreaterThanOrEqual(100)
    expect(result.unhandled, context).toBe(0)
    expect(result.hung, context).toBe(0)
    expect(Object.keys(result.errors).filter((k) => k.includes(':untyped:')), context).toEqual([])
    // Most operations succeed: the faults are a few percent of them.
    expect(result.ok / result.operations, context).toBeGreaterThan(0.7)
    for (const kind of LEFTOVER_KINDS) expect({ kind, left: Math.max(0, result.afterSweep[kind]) }, context).toEqual({ kind, left: 0 })
  }, 10 * 60_000)
})
