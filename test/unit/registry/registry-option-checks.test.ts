// auth and registry option objects, and login's options, checked at run time.
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { checkAuthOption, checkRegistryOptions } from '../../../src/registry/registry-option-checks.js'
import { login } from '../../../src/registry/login.js'

describe('checkAuthOption', () => {
  it('accepts a provider, { username, password } and { identityToken }', () => {
    expect(() => checkAuthOption(() => undefined, 'pull() auth')).not.toThrow()
    expect(() => checkAuthOption({ username: 'u', password: 'p' }, 'pull() auth')).not.toThrow()
    expect(() => checkAuthOption({ identityToken: 't' }, 'pull() auth')).not.toThrow()
    expect(() => checkAuthOption(undefined, 'pull() auth')).not.toThrow()
  })

  it('refuses unknown keys, both kinds at once, missing or non-string values', () => {
    expect(() => checkAuthOption({ user: 'u', password: 'p' }, 'pull() auth')).toThrow("unknown option 'user' of pull() auth: did you mean 'username'?")
    expect(() => checkAuthOption({ username: 'u', password: 'p', identityToken: 't' }, 'pull() auth')).toThrow(/not both/)
    expect(() => checkAuthOption({ username: 'u' }, 'pull() auth')).toThrow('pull() auth password must be a string, got undefined')
    expect(() => checkAuthOption({}, 'pull() auth')).toThrow(InvalidArgumentError)
    expect(() => checkAuthOption('u:p', 'pull() auth')).toThrow('options of pull() auth must be an object')
  })
})

describe('checkRegistryOptions', () => {
  it('refuses unknown keys and lists that are not arrays of strings', () => {
    expect(() => checkRegistryOptions({ configDirs: ['/etc/containerd/certs.d'], insecure: [] }, 'pull() registry')).not.toThrow()
    expect(() => checkRegistryOptions({ insecureRegistries: ['x'] }, 'pull() registry')).toThrow(/unknown option 'insecureRegistries' of pull\(\) registry/)
    expect(() => checkRegistryOptions({ configDirs: '/etc' }, 'pull() registry')).toThrow(/configDirs must be an array of strings/)
  })
})

describe('login options', () => {
  it('are checked before anything is sent', async () => {
    await expect(login('127.0.0.1:1', { username: 'u', password: 'p', skipstore: true } as never)).rejects.toThrow("unknown option 'skipstore' of login(): did you mean 'skipStore'?")
    await expect(login('127.0.0.1:1', { username: 'u', password: 1 } as never)).rejects.toThrow('login() password must be a string, got 1')
    await expect(login('127.0.0.1:1', undefined as never)).rejects.toThrow(InvalidArgumentError)
  })
})
