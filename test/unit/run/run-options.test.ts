// run()'s options checked for plain-JavaScript callers before anything is pulled or made: unknown keys
// with the closest known one, args/env shapes, and the nested pullOptions, logOptions and stdio objects.
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { checkRunOptions, RUN_OPTION_KEYS, type RunOptions } from '../../../src/run/run-options.js'

function refused(options: unknown, message: string | RegExp): void {
  expect(() => checkRunOptions(options as RunOptions)).toThrow(InvalidArgumentError)
  expect(() => checkRunOptions(options as RunOptions)).toThrow(message)
}

describe('checkRunOptions: keys', () => {
  it('names a misspelt option and the one meant', () => {
    refused({ memroy: '32m' }, "unknown option 'memroy' of run(): did you mean 'memory'?")
    refused({ netwrok: 'host' }, "unknown option 'netwrok' of run(): did you mean 'network'?")
    refused({ detatch: true }, "unknown option 'detatch' of run(): did you mean 'detach'?")
    refused({ entryPoint: ['sh'] }, "did you mean 'entrypoint'?")
  })

  it('knows every run, container, flag and call option', () => {
    for (const key of ['memory', 'network', 'name', 'stdio', 'env', 'args', 'capAdd', 'signal', 'timeoutMs', 'specOptions']) {
      expect(Object.keys(RUN_OPTION_KEYS)).toContain(key)
    }
    expect(Object.keys(RUN_OPTION_KEYS)).not.toContain('image')
    expect(() => checkRunOptions({ memory: '32m', network: 'host', env: { A: '1' }, args: ['true'], timeoutMs: 5, signal: new AbortController().signal })).not.toThrow()
  })

  it('refuses options that are not an object', () => {
    refused('sleep 30', 'options of run() must be an object')
    refused(null, 'options of run() must be an object')
  })
})

describe('checkRunOptions: values JavaScript callers get wrong', () => {
  it('refuses args or entrypoint as a string, with the fix', () => {
    refused({ args: 'sleep 30' }, 'run() args must be an array, e.g. [\'sleep\', \'30\']; got "sleep 30"')
    refused({ entrypoint: '/bin/sh' }, /run\(\) entrypoint must be an array/)
  })

  it('takes env as a map of strings or a list, and refuses anything else naming the key', () => {
    expect(() => checkRunOptions({ env: { A: '1' } })).not.toThrow()
    expect(() => checkRunOptions({ env: ['A=1'] })).not.toThrow()
    refused({ env: { A: 1 } }, "run() env.A must be a string, got 1; write '1'")
    refused({ env: 'A=1' }, /run\(\) env must be an object of strings/)
  })

  it('checks name, labels and the list flags', () => {
    refused({ name: 5 }, 'run() name must be a string, got 5')
    refused({ labels: { a: 1 } }, 'run() labels.a must be a string, got 1')
    refused({ capAdd: 'NET_ADMIN' }, /run\(\) capAdd must be an array/)
  })

  it('checks the keys of pullOptions (no signal: run() passes its own) and logOptions', () => {
    refused({ pullOptions: { platfrom: 'linux/amd64' } }, "unknown option 'platfrom' of run() pullOptions: did you mean 'platform'?")
    refused({ pullOptions: { signal: new AbortController().signal } }, /unknown option 'signal' of run\(\) pullOptions/)
    refused({ pullOptions: { auth: { user: 'u', password: 'p' } } }, "unknown option 'user' of run() pullOptions auth: did you mean 'username'?")
    refused({ logOptions: { maxsize: '1m' } }, "unknown option 'maxsize' of run() logOptions: did you mean 'maxSize'?")
    expect(() => checkRunOptions({ pullOptions: { platform: 'linux/amd64' }, logOptions: { maxSize: '1m', maxFile: 2 } })).not.toThrow()
  })

  it('suggests the stream or log key meant in a stdio object', () => {
    refused({ stdio: { stdot: new PassThrough() } }, /unknown key "stdot" \(did you mean 'stdout'\?\)/)
    refused({ stdio: { logfile: '/tmp/x' } }, /unknown key "logfile" \(did you mean 'logFile'\?\)/)
  })
})
