import { describe, it, expect } from 'vitest'
import { parseWwwAuthenticate, type AuthChallenge } from '../../../src/registry/www-authenticate.js'

const vectors: Array<[string, string, AuthChallenge[]]> = [
  [
    'Docker Hub bearer challenge',
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
    [
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
      },
    ],
  ],
  ['basic with realm', 'Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
  ['scheme alone', 'Basic', [{ scheme: 'basic', params: {} }]],
  ['scheme and param names are case-insensitive', 'BEARER Realm="x", SERVICE=y', [{ scheme: 'bearer', params: { realm: 'x', service: 'y' } }]],
  ['values keep their case', 'Bearer realm="HTTPS://Auth.Example/Token"', [{ scheme: 'bearer', params: { realm: 'HTTPS://Auth.Example/Token' } }]],
  ['unquoted token values', 'Bearer realm=abc, service=registry.example.com', [{ scheme: 'bearer', params: { realm: 'abc', service: 'registry.example.com' } }]],
  [
    'comma inside a quoted scope',
    'Bearer realm="https://r/token",scope="repository:a/b:pull,push"',
    [{ scheme: 'bearer', params: { realm: 'https://r/token', scope: 'repository:a/b:pull,push' } }],
  ],
  ['escaped quote and backslash', 'Basic realm="say \\"hi\\" \\\\ bye"', [{ scheme: 'basic', params: { realm: 'say "hi" \\ bye' } }]],
  ['quoted-pair of an ordinary character', 'Basic realm="a\\bc"', [{ scheme: 'basic', params: { realm: 'abc' } }]],
  ['empty quoted value', 'Bearer realm="", service="s"', [{ scheme: 'bearer', params: { realm: '', service: 's' } }]],
  ['spaces around =', 'Bearer realm = "x" , service =  y', [{ scheme: 'bearer', params: { realm: 'x', service: 'y' } }]],
  ['tabs as whitespace', 'Bearer\trealm="x",\tservice="y"', [{ scheme: 'bearer', params: { realm: 'x', service: 'y' } }]],
  [
    'two challenges in one header',
    'Basic realm="basic-realm", Bearer realm="https://t/token", service="svc"',
    [
      { scheme: 'basic', params: { realm: 'basic-realm' } },
      { scheme: 'bearer', params: { realm: 'https://t/token', service: 'svc' } },
    ],
  ],
  [
    'challenge after a param-less challenge',
    'Negotiate, Basic realm="r"',
    [
      { scheme: 'negotiate', params: {} },
      { scheme: 'basic', params: { realm: 'r' } },
    ],
  ],
  [
    'three challenges, comma-heavy',
    'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple", Bearer realm="b,c"',
    [
      { scheme: 'newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
      { scheme: 'basic', params: { realm: 'simple' } },
      { scheme: 'bearer', params: { realm: 'b,c' } },
    ],
  ],
  ['token68', 'Negotiate YIIC+gYGKwYBBQUCoIIC7jCCAuqgMDAu/w==', [{ scheme: 'negotiate', params: {}, token68: 'YIIC+gYGKwYBBQUCoIIC7jCCAuqgMDAu/w==' }]],
  [
    'token68 followed by another challenge',
    'Negotiate abc=, Basic realm="r"',
    [
      { scheme: 'negotiate', params: {}, token68: 'abc=' },
      { scheme: 'basic', params: { realm: 'r' } },
    ],
  ],
  ['empty list elements are skipped', ' , Bearer realm="x",, ,service="y" ,', [{ scheme: 'bearer', params: { realm: 'x', service: 'y' } }]],
  ['duplicate param: first wins', 'Bearer realm="first", realm="second"', [{ scheme: 'bearer', params: { realm: 'first' } }]],
  [
    'error params of an invalid_token challenge',
    'Bearer realm="https://r/token",error="invalid_token",error_description="The access token expired"',
    [
      {
        scheme: 'bearer',
        params: { realm: 'https://r/token', error: 'invalid_token', error_description: 'The access token expired' },
      },
    ],
  ],
  ['non-token unquoted value is kept', 'Bearer scope=repository:a/b:pull', [{ scheme: 'bearer', params: { scope: 'repository:a/b:pull' } }]],
  ['unterminated quote keeps what came before', 'Bearer realm="x", service="unterminated', [{ scheme: 'bearer', params: { realm: 'x' } }]],
  ['parameter before any scheme is ignored', 'realm="x", Basic realm="y"', [{ scheme: 'basic', params: { realm: 'y' } }]],
  ['garbage element is skipped', 'Bearer realm="x", @@@, service="y"', [{ scheme: 'bearer', params: { realm: 'x', service: 'y' } }]],
  ['empty header', '', []],
  ['only whitespace and commas', ' ,\t, ', []],
]

describe('parseWwwAuthenticate', () => {
  it.each(vectors)('%s', (_name, header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected)
  })

  it('accepts several header values and concatenates their challenges', () => {
    expect(parseWwwAuthenticate(['Basic realm="a"', 'Bearer realm="b"'])).toEqual([
      { scheme: 'basic', params: { realm: 'a' } },
      { scheme: 'bearer', params: { realm: 'b' } },
    ])
  })

  it('returns nothing for a missing header', () => {
    expect(parseWwwAuthenticate(null)).toEqual([])
    expect(parseWwwAuthenticate(undefined)).toEqual([])
    expect(parseWwwAuthenticate([])).toEqual([])
  })

  it('does not let a param named __proto__ reach the prototype', () => {
    const [challenge] = parseWwwAuthenticate('Bearer __proto__="x", realm="r"')
    expect(challenge?.params['realm']).toBe('r')
    expect(Object.getPrototypeOf(challenge?.params)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(challenge?.params, '__proto__')?.value).toBe('x')
  })
})

describe('bounds', () => {
  it('refuses a header over 16 KiB with RegistryError TooLarge saying so (was: parsed whole)', () => {
    const header = `Bearer realm="https://auth.example/token",scope="${'a'.repeat(17 * 1024)}"`
    expect(() => parseWwwAuthenticate(header, 'registry.example')).toThrow(
      expect.objectContaining({ name: 'RegistryError', code: 'TooLarge', message: expect.stringMatching(/^the WWW-Authenticate header from registry\.example is \d+ bytes, more than the 16384 accepted/) }),
    )
    // Several field values count together.
    expect(() => parseWwwAuthenticate([header.slice(0, 9000), header.slice(0, 9000)])).toThrow(/WWW-Authenticate header from the registry is 18000 bytes/)
  })

  it('refuses more than 64 parameters in a challenge, and more than 16 challenges', () => {
    const params = Array.from({ length: 65 }, (_, i) => `p${i}=v`).join(',')
    expect(() => parseWwwAuthenticate(`Bearer ${params}`)).toThrow(expect.objectContaining({ code: 'TooLarge', message: expect.stringMatching(/bearer challenge .* more than the 64 parameters/) }))
    const challenges = Array.from({ length: 17 }, (_, i) => `S${i} a=b`).join(', ')
    expect(() => parseWwwAuthenticate(challenges)).toThrow(expect.objectContaining({ code: 'TooLarge', message: expect.stringMatching(/17 challenges, more than the 16 accepted/) }))
  })

  it('still parses headers at the bounds', () => {
    const params = Array.from({ length: 64 }, (_, i) => `p${i}=v`).join(',')
    expect(Object.keys(parseWwwAuthenticate(`Bearer ${params}`)[0]?.params ?? {})).toHaveLength(64)
    expect(parseWwwAuthenticate(Array.from({ length: 16 }, (_, i) => `S${i} a=b`).join(', '))).toHaveLength(16)
  })
})
