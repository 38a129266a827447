// The run-time options check: unknown keys named with the closest known one, inherited keys known,
// non-objects refused, string lists that are not arrays refused with the fix; and the typed key lists.
import { describe, expect, it } from 'vitest'
import { CALL_OPTION_KEYS, checkOptionKeys, checkStringArray, closestKey, keysOf, omitKeys } from '../../../src/client/option-check.js'
import type { CallOptions } from '../../../src/grpc/call-options.js'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'

interface SampleOptions extends CallOptions {
  memory?: string
  network?: 'none' | 'host'
  memorySwap?: string
  name?: string
}

const SAMPLE_KEYS = keysOf<SampleOptions>()({ ...CALL_OPTION_KEYS, memory: true, network: true, memorySwap: true, name: true })

function refusal(options: unknown, known: Parameters<typeof checkOptionKeys>[1] = SAMPLE_KEYS): InvalidArgumentError {
  try {
    checkOptionKeys(options, known, 'run()')
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidArgumentError)
    return err as InvalidArgumentError
  }
  throw new Error('not refused')
}

describe('checkOptionKeys', () => {
  it('accepts known keys, inherited ones included, and no options at all', () => {
    expect(() => checkOptionKeys({ memory: '32m', name: 'web' }, SAMPLE_KEYS, 'run()')).not.toThrow()
    expect(() => checkOptionKeys({ signal: new AbortController().signal, timeoutMs: 5 }, SAMPLE_KEYS, 'run()')).not.toThrow()
    expect(() => checkOptionKeys({}, SAMPLE_KEYS, 'run()')).not.toThrow()
    expect(() => checkOptionKeys(undefined, SAMPLE_KEYS, 'run()')).not.toThrow()
    expect(() => checkOptionKeys({ a: 1 }, ['a', 'b'], 'f()')).not.toThrow()
  })

  it('names an unknown key and the closest known one (transposition, case, snake or kebab case)', () => {
    expect(refusal({ memroy: '32m' }).message).toBe("unknown option 'memroy' of run(): did you mean 'memory'?")
    expect(refusal({ netwrok: 'host' }).message).toBe("unknown option 'netwrok' of run(): did you mean 'network'?")
    expect(refusal({ Memory: '32m' }).message).toContain("did you mean 'memory'?")
    expect(refusal({ memory_swap: '1g' }).message).toContain("did you mean 'memorySwap'?")
    expect(refusal({ 'memory-swap': '1g' }).message).toContain("did you mean 'memorySwap'?")
    expect(refusal({ timeout: 5 }).message).toContain("did you mean 'timeoutMs'?")
  })

  it('lists a few known keys when none is close, and names the other unknown keys too', () => {
    const far = refusal({ ports: ['80:80'] })
    expect(far.message).toBe("unknown option 'ports' of run(); known options are 'signal', 'timeoutMs', 'memory', 'network', 'memorySwap', 'name'")
    const many = refusal({ zzz: 1 }, ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8'])
    expect(many.message).toBe("unknown option 'zzz' of run(); known options are 'a1', 'a2', 'a3', 'a4', 'a5', 'a6' and 2 more")
    expect(refusal({ memroy: '1m', netwrok: 'host', x: 1 }).message).toBe("unknown option 'memroy' of run(): did you mean 'memory'? (also unknown: 'netwrok', 'x')")
  })

  it('refuses a key whose value is undefined too: a typo is a typo', () => {
    expect(refusal({ memroy: undefined }).message).toContain("'memroy'")
  })

  it('refuses options that are not an object', () => {
    expect(refusal(null).message).toBe('options of run() must be an object such as { … }, got null')
    expect(refusal('sleep 30').message).toBe('options of run() must be an object such as { … }, got "sleep 30"')
    expect(refusal(['a']).message).toContain('got an array')
    expect(refusal(5).message).toContain('got 5')
    expect(refusal(() => undefined).message).toContain('got a function')
  })

  it('does not take inherited Object properties for known keys', () => {
    expect(refusal({ toString: 'x' }).message).toContain("unknown option 'toString'")
  })
})

describe('closestKey', () => {
  it('suggests only what is close enough for the key length', () => {
    const known = ['env', 'cwd', 'args', 'user', 'privileged', 'capAdd']
    expect(closestKey('evn', known)).toBe('env')
    expect(closestKey('arg', known)).toBe('args')
    expect(closestKey('xyz', known)).toBeUndefined()
    expect(closestKey('priviledged', known)).toBe('privileged')
    expect(closestKey('cap_add', known)).toBe('capAdd')
    expect(closestKey('anything', [])).toBeUndefined()
  })
})

describe('checkStringArray', () => {
  it('refuses a string with the fix, and non-string items by index', () => {
    expect(() => checkStringArray('sleep 30', 'args', "['sleep', '30']")).toThrow(new InvalidArgumentError('args must be an array, e.g. [\'sleep\', \'30\']; got "sleep 30"'))
    expect(() => checkStringArray(['sleep', 30], 'args', "['sleep', '30']")).toThrow('args[1] must be a string, got 30')
    expect(() => checkStringArray(['sleep', '30'], 'args', '')).not.toThrow()
    expect(() => checkStringArray(undefined, 'args', '')).not.toThrow()
  })
})

describe('keysOf and omitKeys', () => {
  it('gives the keys at run time, frozen, and omitKeys drops some', () => {
    expect(Object.keys(SAMPLE_KEYS)).toEqual(['signal', 'timeoutMs', 'memory', 'network', 'memorySwap', 'name'])
    expect(Object.isFrozen(SAMPLE_KEYS)).toBe(true)
    expect(Object.keys(omitKeys(SAMPLE_KEYS, 'signal', 'name'))).toEqual(['timeoutMs', 'memory', 'network', 'memorySwap'])
  })

  it('does not compile when the list misses a key of the type or names one it lacks', () => {
    // Type-level: these lines are the test (tsc fails when an expect-error is not an error).
    // @ts-expect-error memorySwap and name are missing
    keysOf<SampleOptions>()({ ...CALL_OPTION_KEYS, memory: true, network: true })
    // @ts-expect-error memroy is not a key of SampleOptions
    keysOf<SampleOptions>()({ ...CALL_OPTION_KEYS, memory: true, network: true, memorySwap: true, name: true, memroy: true })
    // Unions: every member's keys.
    const union = keysOf<{ username: string; password: string } | { identityToken: string }>()({ username: true, password: true, identityToken: true })
    expect(Object.keys(union)).toHaveLength(3)
  })
})

describe('closestKey: shortened and lengthened names', () => {
  it('suggests a known key the unknown one starts, or is started by', () => {
    expect(closestKey('user', ['username', 'password', 'identityToken'])).toBe('username')
    expect(closestKey('pass', ['username', 'password'])).toBe('password')
    expect(closestKey('stdoutStream', ['stdin', 'stdout', 'stderr'])).toBe('stdout')
    expect(closestKey('me', ['memory'])).toBeUndefined()
  })
})
