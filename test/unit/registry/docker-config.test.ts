import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CredentialHelperOutcome, CredentialHelperRunner } from '../../../src/registry/credential-helper.js'
import {
  authConfigKey,
  decodeAuthEntry,
  dockerConfigPath,
  loadDockerConfig,
  registryHostname,
  removeCredentials,
  resolveCredentials,
  saveCredentials,
  type DockerConfig,
} from '../../../src/registry/docker-config.js'
import { RegistryError } from '../../../src/registry/registry-error.js'

const SECRET = 'Sup3r-S3cret-pa55'
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

let home: string
let configDir: string
let env: NodeJS.ProcessEnv

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'csdk-dockercfg-'))
  configDir = join(home, '.docker')
  env = {}
})

afterEach(async () => {
  await rm(home, { recursive: true, force: true })
})

async function writeConfig(content: unknown): Promise<void> {
  await mkdir(configDir, { recursive: true })
  await writeFile(join(configDir, 'config.json'), typeof content === 'string' ? content : JSON.stringify(content))
}

async function readConfig(): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(configDir, 'config.json'), 'utf8')) as Record<string, unknown>
}

async function load(): Promise<DockerConfig> {
  return loadDockerConfig({ env, homeDir: home })
}

function config(file: DockerConfig['file'], envAuths: DockerConfig['envAuths'] = {}): DockerConfig {
  return { path: join(configDir, 'config.json'), file, envAuths }
}

// A scripted helper runner recording every call.
function fakeRunner(answers: Record<string, CredentialHelperOutcome>): { run: CredentialHelperRunner; calls: string[][] } {
  const calls: string[][] = []
  const run: CredentialHelperRunner = async (helper, action, input) => {
    calls.push([helper, action, input])
    return answers[`${helper} ${action}`] ?? { status: 'missing' }
  }
  return { run, calls }
}

async function rejection(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryError)
    return err as RegistryError
  }
  throw new Error('expected a rejection')
}

function expectNoSecret(err: unknown, secret = SECRET): void {
  const e = err as Error
  const text = [String(e), e.message, e.stack ?? '', String(e.cause ?? ''), JSON.stringify(e)].join('\n')
  expect(text).not.toContain(secret)
  expect(text).not.toContain(b64(`alice:${secret}`))
}

describe('dockerConfigPath', () => {
  it('uses $DOCKER_CONFIG, else ~/.docker', () => {
    expect(dockerConfigPath({ env: { DOCKER_CONFIG: '/custom' }, homeDir: '/home/u' })).toBe('/custom/config.json')
    expect(dockerConfigPath({ env: { DOCKER_CONFIG: '' }, homeDir: '/home/u' })).toBe('/home/u/.docker/config.json')
    expect(dockerConfigPath({ env: {}, homeDir: '/home/u' })).toBe('/home/u/.docker/config.json')
  })
})

describe('authConfigKey and registryHostname', () => {
  it('maps every Docker Hub name to the index key', () => {
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'Docker.IO']) {
      expect(authConfigKey(host)).toBe('https://index.docker.io/v1/')
    }
    expect(authConfigKey('ghcr.io')).toBe('ghcr.io')
    expect(authConfigKey('localhost:5000')).toBe('localhost:5000')
  })

  it.each([
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['http://Reg.Example.com:5000/v1/', 'reg.example.com:5000'],
    ['reg.example.com/v2', 'reg.example.com'],
    ['reg.example.com', 'reg.example.com'],
    ['https://[::1]:5000/', '[::1]:5000'],
  ])('%s → %s', (key, host) => {
    expect(registryHostname(key)).toBe(host)
  })
})

describe('loadDockerConfig', () => {
  it('a missing file is an empty configuration', async () => {
    const cfg = await load()
    expect(cfg).toEqual({ path: join(configDir, 'config.json'), file: {}, envAuths: {} })
  })

  it('an empty file is an empty configuration', async () => {
    await writeConfig('  \n')
    expect((await load()).file).toEqual({})
  })

  it('reads $DOCKER_CONFIG/config.json in preference to the home directory', async () => {
    await writeConfig({ auths: { 'home.example.com': { auth: b64('a:b') } } })
    const other = join(home, 'elsewhere')
    await mkdir(other)
    await writeFile(join(other, 'config.json'), JSON.stringify({ auths: { 'env.example.com': { auth: b64('c:d') } } }))
    env = { DOCKER_CONFIG: other }
    const cfg = await load()
    expect(cfg.path).toBe(join(other, 'config.json'))
    expect(Object.keys(cfg.file.auths ?? {})).toEqual(['env.example.com'])
  })

  it('malformed JSON is InvalidConfig and does not quote the file', async () => {
    await writeConfig(`{"auths": {"r.example.com": {"auth": "${b64(`alice:${SECRET}`)}"}}, oops}`)
    const err = await rejection(load())
    expect(err.code).toBe('InvalidConfig')
    expect(err.message).toContain('not valid JSON')
    expect(err.cause).toBeUndefined()
    expectNoSecret(err)
  })

  it.each([
    ['a non-object document', '[1,2]'],
    ['auths of the wrong type', '{"auths": "nope"}'],
    ['credsStore of the wrong type', '{"credsStore": 1}'],
    ['credHelpers with a non-string helper', '{"credHelpers": {"a": 1}}'],
  ])('rejects %s', async (_name, text) => {
    await writeConfig(text)
    await expect(load()).rejects.toMatchObject({ code: 'InvalidConfig' })
  })

  it('treats null auths and credHelpers as absent', async () => {
    await writeConfig('{"auths": null, "credHelpers": null, "psFormat": "x"}')
    expect((await load()).file).toEqual({ psFormat: 'x' })
  })

  it('an unreadable config path is InvalidConfig with the fs error as cause', async () => {
    await mkdir(join(configDir, 'config.json'), { recursive: true })
    const err = await rejection(load())
    expect(err.code).toBe('InvalidConfig')
    expect((err.cause as NodeJS.ErrnoException).code).toBe('EISDIR')
  })

  it('reads DOCKER_AUTH_CONFIG', async () => {
    env = { DOCKER_AUTH_CONFIG: JSON.stringify({ auths: { 'r.example.com': { auth: b64('env:pw') } } }) }
    const cfg = await load()
    expect(cfg.envAuths).toEqual({ 'r.example.com': { auth: b64('env:pw') } })
  })

  it('a malformed DOCKER_AUTH_CONFIG is InvalidConfig without its content', async () => {
    env = { DOCKER_AUTH_CONFIG: `{"auths": {"r": {"auth": "${b64(`alice:${SECRET}`)}"` }
    const err = await rejection(load())
    expect(err.code).toBe('InvalidConfig')
    expect(err.message).toContain('DOCKER_AUTH_CONFIG')
    expectNoSecret(err)
    env = { DOCKER_AUTH_CONFIG: '{"auths": []}' }
    await expect(load()).rejects.toMatchObject({ code: 'InvalidConfig' })
  })
})

describe('decodeAuthEntry', () => {
  it('splits user and password at the first colon', () => {
    expect(decodeAuthEntry('k', { auth: b64('alice:pa:ss:word') })).toEqual({ username: 'alice', password: 'pa:ss:word' })
  })

  it('allows an empty password and trims NUL padding', () => {
    expect(decodeAuthEntry('k', { auth: b64('alice:') })).toEqual({ username: 'alice', password: '' })
    expect(decodeAuthEntry('k', { auth: b64('alice:pw\0\0') })).toEqual({ username: 'alice', password: 'pw' })
  })

  it('prefers the identity token', () => {
    expect(decodeAuthEntry('k', { auth: b64('alice:pw'), identitytoken: 'tok' })).toEqual({ identityToken: 'tok' })
  })

  it('falls back to legacy username/password fields', () => {
    expect(decodeAuthEntry('k', { username: 'bob', password: 'pw' })).toEqual({ username: 'bob', password: 'pw' })
  })

  it('an entry without credentials is undefined', () => {
    expect(decodeAuthEntry('k', {})).toBeUndefined()
    expect(decodeAuthEntry('k', { auth: '', email: 'x@example.com' })).toBeUndefined()
  })

  it.each([
    ['not base64', `!!${SECRET}!!`],
    ['no colon', b64(`alice${SECRET}`)],
    ['empty user', b64(`:${SECRET}`)],
  ])('rejects an auth field that is %s, without quoting it', (_name, auth) => {
    let thrown: unknown
    try {
      decodeAuthEntry('r.example.com', { auth })
    } catch (err) {
      thrown = err
    }
    expect(thrown).toBeInstanceOf(RegistryError)
    expect((thrown as RegistryError).code).toBe('InvalidConfig')
    expect((thrown as RegistryError).message).toContain('r.example.com')
    expectNoSecret(thrown)
    expect((thrown as RegistryError).message).not.toContain(auth)
  })

  it('rejects a non-object entry', () => {
    expect(() => decodeAuthEntry('k', 'str')).toThrow(RegistryError)
  })
})

describe('resolveCredentials from auths', () => {
  it.each(['docker.io', 'registry-1.docker.io', 'index.docker.io'])('%s finds the https://index.docker.io/v1/ entry', async (host) => {
    const cfg = config({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } })
    expect(await resolveCredentials(host, cfg)).toEqual({ username: 'hub', password: 'pw' })
  })

  it('matches Docker Hub entries stored under another of its names', async () => {
    const cfg = config({ auths: { 'registry-1.docker.io': { auth: b64('hub:pw') } } })
    expect(await resolveCredentials('docker.io', cfg)).toEqual({ username: 'hub', password: 'pw' })
  })

  it.each(['r.example.com', 'https://r.example.com', 'http://r.example.com', 'https://r.example.com/v1/', 'R.Example.COM/v2/'])(
    'matches the key %s',
    async (key) => {
      const cfg = config({ auths: { [key]: { auth: b64('u:p') } } })
      expect(await resolveCredentials('r.example.com', cfg)).toEqual({ username: 'u', password: 'p' })
    },
  )

  it('keeps ports apart', async () => {
    const cfg = config({ auths: { 'r.example.com:5000': { auth: b64('five:k') }, 'r.example.com': { auth: b64('plain:p') } } })
    expect(await resolveCredentials('r.example.com:5000', cfg)).toEqual({ username: 'five', password: 'k' })
    expect(await resolveCredentials('r.example.com', cfg)).toEqual({ username: 'plain', password: 'p' })
    expect(await resolveCredentials('r.example.com:6000', cfg)).toBeUndefined()
  })

  it('prefers the exact key over a legacy URL key', async () => {
    const cfg = config({ auths: { 'https://r.example.com/v1/': { auth: b64('old:1') }, 'r.example.com': { auth: b64('new:2') } } })
    expect(await resolveCredentials('r.example.com', cfg)).toEqual({ username: 'new', password: '2' })
  })

  it('skips an empty entry for another matching key', async () => {
    const cfg = config({ auths: { 'r.example.com': {}, 'https://r.example.com': { auth: b64('u:p') } } })
    expect(await resolveCredentials('r.example.com', cfg)).toEqual({ username: 'u', password: 'p' })
  })

  it('returns identity tokens', async () => {
    const cfg = config({ auths: { 'r.example.com': { identitytoken: 'refresh' } } })
    expect(await resolveCredentials('r.example.com', cfg)).toEqual({ identityToken: 'refresh' })
  })

  it('is anonymous when nothing matches', async () => {
    expect(await resolveCredentials('r.example.com', config({}))).toBeUndefined()
    expect(await resolveCredentials('r.example.com', config({ auths: { 'other.example.com': { auth: b64('u:p') } } }))).toBeUndefined()
  })

  it('a malformed entry for another host does not matter', async () => {
    const cfg = config({ auths: { 'bad.example.com': { auth: '%%%' }, 'r.example.com': { auth: b64('u:p') } } })
    expect(await resolveCredentials('r.example.com', cfg)).toEqual({ username: 'u', password: 'p' })
    await expect(resolveCredentials('bad.example.com', cfg)).rejects.toMatchObject({ code: 'InvalidConfig' })
  })
})

describe('resolveCredentials precedence', () => {
  const helperAnswer = (user: string, secret: string): CredentialHelperOutcome => ({
    status: 'ok',
    stdout: JSON.stringify({ ServerURL: 'x', Username: user, Secret: secret }),
  })

  it('DOCKER_AUTH_CONFIG wins over helpers and the file', async () => {
    const { run, calls } = fakeRunner({ 'store get': helperAnswer('helper', 'h') })
    const cfg = config({ credsStore: 'store', auths: { 'r.example.com': { auth: b64('file:f') } } }, { 'https://r.example.com': { auth: b64('env:e') } })
    expect(await resolveCredentials('r.example.com', cfg, { runHelper: run })).toEqual({ username: 'env', password: 'e' })
    expect(calls).toEqual([])
  })

  it('credHelpers[host] wins over credsStore and auths', async () => {
    const { run, calls } = fakeRunner({ 'ecr get': helperAnswer('AWS', 'ecr-pw'), 'desktop get': helperAnswer('d', 'd') })
    const cfg = config({ credsStore: 'desktop', credHelpers: { 'r.example.com': 'ecr' }, auths: { 'r.example.com': { auth: b64('file:f') } } })
    expect(await resolveCredentials('r.example.com', cfg, { runHelper: run })).toEqual({ username: 'AWS', password: 'ecr-pw' })
    expect(calls).toEqual([['ecr', 'get', 'r.example.com']])
  })

  it('credsStore is asked with the index key for Docker Hub', async () => {
    const { run, calls } = fakeRunner({ 'desktop get': helperAnswer('hubuser', 'hubpw') })
    const cfg = config({ credsStore: 'desktop' })
    expect(await resolveCredentials('registry-1.docker.io', cfg, { runHelper: run })).toEqual({ username: 'hubuser', password: 'hubpw' })
    expect(calls).toEqual([['desktop', 'get', 'https://index.docker.io/v1/']])
  })

  it('a credHelpers entry for docker.io applies to Docker Hub', async () => {
    const { run, calls } = fakeRunner({ 'hub get': helperAnswer('x', 'y') })
    const cfg = config({ credHelpers: { 'docker.io': 'hub' } })
    expect(await resolveCredentials('docker.io', cfg, { runHelper: run })).toEqual({ username: 'x', password: 'y' })
    expect(calls[0]?.[0]).toBe('hub')
  })

  it('a helper answering <token> gives an identity token', async () => {
    const { run } = fakeRunner({ 'desktop get': helperAnswer('<token>', 'refresh-tok') })
    expect(await resolveCredentials('r.example.com', config({ credsStore: 'desktop' }), { runHelper: run })).toEqual({
      identityToken: 'refresh-tok',
    })
  })

  it('falls through to auths when the helper has nothing', async () => {
    const { run } = fakeRunner({
      'desktop get': { status: 'failed', exitCode: 1, output: 'credentials not found in native keychain\n' },
    })
    const cfg = config({ credsStore: 'desktop', auths: { 'r.example.com': { auth: b64('file:f') } } })
    expect(await resolveCredentials('r.example.com', cfg, { runHelper: run })).toEqual({ username: 'file', password: 'f' })
  })

  it('falls through to auths when the helper is not installed', async () => {
    const { run } = fakeRunner({})
    const cfg = config({ credsStore: 'desktop', auths: { 'r.example.com': { auth: b64('file:f') } } })
    expect(await resolveCredentials('r.example.com', cfg, { runHelper: run })).toEqual({ username: 'file', password: 'f' })
  })

  it('an empty credHelpers entry means config.json even when credsStore is set', async () => {
    const { run, calls } = fakeRunner({ 'desktop get': helperAnswer('d', 'd') })
    const cfg = config({ credsStore: 'desktop', credHelpers: { 'r.example.com': '' }, auths: { 'r.example.com': { auth: b64('file:f') } } })
    expect(await resolveCredentials('r.example.com', cfg, { runHelper: run })).toEqual({ username: 'file', password: 'f' })
    expect(calls).toEqual([])
  })

  it('a failing helper is an error without secrets', async () => {
    const { run } = fakeRunner({ 'desktop get': { status: 'failed', exitCode: 2, output: 'keychain is locked' } })
    const err = await rejection(resolveCredentials('r.example.com', config({ credsStore: 'desktop' }), { runHelper: run }))
    expect(err.code).toBe('CredentialHelper')
    expect(err.message).toContain('keychain is locked')
  })
})

describe('saveCredentials to config.json', () => {
  it('writes auths[key].auth with mode 0600 and keeps every other field', async () => {
    await writeConfig({
      auths: { 'other.example.com': { auth: b64('o:p') }, 'r.example.com': { auth: b64('old:old'), email: 'a@example.com' } },
      psFormat: 'table {{.ID}}',
      proxies: { default: { httpProxy: 'http://proxy:3128' } },
      futureField: [1, 2, 3],
    })
    const cfg = await load()
    await saveCredentials('r.example.com', { username: 'alice', password: SECRET }, cfg)

    const written = await readConfig()
    expect(written).toEqual({
      auths: {
        'other.example.com': { auth: b64('o:p') },
        'r.example.com': { auth: b64(`alice:${SECRET}`), email: 'a@example.com' },
      },
      psFormat: 'table {{.ID}}',
      proxies: { default: { httpProxy: 'http://proxy:3128' } },
      futureField: [1, 2, 3],
    })
    expect((await stat(cfg.path)).mode & 0o777).toBe(0o600)
    expect(cfg.file).toEqual(written)
    expect(await resolveCredentials('r.example.com', cfg)).toEqual({ username: 'alice', password: SECRET })
    // Nothing left behind by the atomic write.
    expect(await readdir(configDir)).toEqual(['config.json'])
  })

  it('creates the directory and file when there are none', async () => {
    const cfg = await load()
    await saveCredentials('docker.io', { username: 'hub', password: 'pw' }, cfg)
    expect(await readConfig()).toEqual({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } })
    expect((await stat(configDir)).mode & 0o777).toBe(0o700)
  })

  it('keeps changes made to the file after it was loaded', async () => {
    await writeConfig({ auths: {} })
    const cfg = await load()
    await writeConfig({ auths: { 'late.example.com': { auth: b64('l:l') } }, currentContext: 'remote' })
    await saveCredentials('r.example.com', { username: 'u', password: 'p' }, cfg)
    expect(await readConfig()).toEqual({
      auths: { 'late.example.com': { auth: b64('l:l') }, 'r.example.com': { auth: b64('u:p') } },
      currentContext: 'remote',
    })
  })

  it('stores an identity token and drops the old password', async () => {
    await writeConfig({ auths: { 'r.example.com': { auth: b64('u:p') } } })
    const cfg = await load()
    await saveCredentials('r.example.com', { identityToken: 'refresh' }, cfg)
    expect(await readConfig()).toEqual({ auths: { 'r.example.com': { identitytoken: 'refresh' } } })
  })

  it('replaces a symlinked config.json at its target', async () => {
    const real = join(home, 'dotfiles', 'docker-config.json')
    await mkdir(join(home, 'dotfiles'))
    await writeFile(real, '{"auths": {}}')
    await mkdir(configDir)
    await symlink(real, join(configDir, 'config.json'))
    const cfg = await load()
    await saveCredentials('r.example.com', { username: 'u', password: 'p' }, cfg)
    expect((await lstat(join(configDir, 'config.json'))).isSymbolicLink()).toBe(true)
    expect(await readlink(join(configDir, 'config.json'))).toBe(real)
    expect(JSON.parse(await readFile(real, 'utf8'))).toEqual({ auths: { 'r.example.com': { auth: b64('u:p') } } })
  })

  it('refuses to overwrite a file that became malformed', async () => {
    await writeConfig({ auths: {} })
    const cfg = await load()
    await writeConfig('{ broken')
    const err = await rejection(saveCredentials('r.example.com', { username: 'alice', password: SECRET }, cfg))
    expect(err.code).toBe('InvalidConfig')
    expectNoSecret(err)
    expect(await readFile(cfg.path, 'utf8')).toBe('{ broken')
  })

  it('rejects a user name with a colon', async () => {
    const err = await rejection(saveCredentials('r.example.com', { username: 'a:b', password: SECRET }, await load()))
    expect(err.code).toBe('InvalidConfig')
    expectNoSecret(err)
  })

  it('a write failure is InvalidConfig without secrets', async () => {
    // /proc/self takes no new files, even for root (for whom permission bits would not stop the write).
    const cfg: DockerConfig = { path: '/proc/self/config.json', file: {}, envAuths: {} }
    const err = await rejection(saveCredentials('r.example.com', { username: 'alice', password: SECRET }, cfg))
    expect(err.code).toBe('InvalidConfig')
    expect(err.message).toContain('cannot write')
    expectNoSecret(err)
  })
})

describe('saveCredentials and removeCredentials with a helper', () => {
  it('stores through credsStore and leaves only an empty entry in the file', async () => {
    await writeConfig({ credsStore: 'desktop', auths: { 'r.example.com': { auth: b64('old:plaintext'), email: 'e@x' } } })
    const cfg = await load()
    const { run, calls } = fakeRunner({ 'desktop store': { status: 'ok', stdout: '' } })
    await saveCredentials('r.example.com', { username: 'alice', password: SECRET }, cfg, { runHelper: run })
    expect(calls).toEqual([['desktop', 'store', JSON.stringify({ ServerURL: 'r.example.com', Username: 'alice', Secret: SECRET })]])
    expect(await readConfig()).toEqual({ credsStore: 'desktop', auths: { 'r.example.com': { email: 'e@x' } } })
  })

  it('a repeated helper login does not rewrite the file', async () => {
    const text = '{ "credsStore": "desktop",   "auths": { "r.example.com": {} } }'
    await writeConfig(text)
    const cfg = await load()
    const { run } = fakeRunner({ 'desktop store': { status: 'ok', stdout: '' } })
    await saveCredentials('r.example.com', { username: 'alice', password: SECRET }, cfg, { runHelper: run })
    expect(await readFile(cfg.path, 'utf8')).toBe(text)
  })

  it('stores identity tokens under the <token> user name', async () => {
    const cfg = config({ credHelpers: { 'docker.io': 'hub' } })
    const { run, calls } = fakeRunner({ 'hub store': { status: 'ok', stdout: '' } })
    await saveCredentials('docker.io', { identityToken: 'refresh' }, cfg, { runHelper: run })
    expect(calls).toEqual([['hub', 'store', JSON.stringify({ ServerURL: 'https://index.docker.io/v1/', Username: '<token>', Secret: 'refresh' })]])
  })

  it('a helper store failure leaves the file alone and quotes no secret', async () => {
    await writeConfig({ credsStore: 'desktop' })
    const cfg = await load()
    const { run } = fakeRunner({ 'desktop store': { status: 'failed', exitCode: 1, output: `could not store ${SECRET}` } })
    const err = await rejection(saveCredentials('r.example.com', { username: 'alice', password: SECRET }, cfg, { runHelper: run }))
    expect(err.code).toBe('CredentialHelper')
    expectNoSecret(err)
    expect(await readConfig()).toEqual({ credsStore: 'desktop' })
  })

  it('logout erases from the helper and removes every matching auths key', async () => {
    await writeConfig({
      credsStore: 'desktop',
      auths: { 'r.example.com': {}, 'https://r.example.com/v1/': { auth: b64('u:p') }, 'keep.example.com': { auth: b64('k:k') } },
    })
    const cfg = await load()
    const { run, calls } = fakeRunner({ 'desktop erase': { status: 'ok', stdout: '' } })
    expect(await removeCredentials('r.example.com', cfg, { runHelper: run })).toBe(true)
    expect(calls).toEqual([['desktop', 'erase', 'r.example.com']])
    expect(await readConfig()).toEqual({ credsStore: 'desktop', auths: { 'keep.example.com': { auth: b64('k:k') } } })
  })
})

describe('removeCredentials from config.json', () => {
  it('deletes the Docker Hub entry', async () => {
    await writeConfig({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } }, psFormat: 'x' })
    const cfg = await load()
    expect(await removeCredentials('docker.io', cfg)).toBe(true)
    expect(await readConfig()).toEqual({ auths: {}, psFormat: 'x' })
    expect(await resolveCredentials('docker.io', cfg)).toBeUndefined()
  })

  it('does not write when there is nothing to delete', async () => {
    const cfg = await load()
    expect(await removeCredentials('r.example.com', cfg)).toBe(false)
    await expect(stat(cfg.path)).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

describe('end to end with a real helper program', () => {
  it('login, lookup and logout through credsStore', async () => {
    const bin = join(home, 'bin')
    const store = join(home, 'store')
    await mkdir(bin)
    await mkdir(store)
    const helper = join(bin, 'docker-credential-filestore')
    await writeFile(
      helper,
      `#!/bin/sh
input=$(cat)
key() { printf %s "$1" | tr -c 'A-Za-z0-9.' _; }
case "$1" in
  get) f="$STORE/$(key "$input")"; if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  store) url=$(printf %s "$input" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p'); printf %s "$input" > "$STORE/$(key "$url")" ;;
  erase) rm -f "$STORE/$(key "$input")" ;;
esac
`,
    )
    await chmod(helper, 0o755)
    await writeConfig({ credsStore: 'filestore' })
    const cfg = await load()
    const helperEnv = { PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, STORE: store }

    await saveCredentials('docker.io', { username: 'hub', password: SECRET }, cfg, { env: helperEnv })
    expect(await readConfig()).toEqual({ credsStore: 'filestore', auths: { 'https://index.docker.io/v1/': {} } })
    expect(await resolveCredentials('registry-1.docker.io', cfg, { env: helperEnv })).toEqual({ username: 'hub', password: SECRET })

    await removeCredentials('docker.io', cfg, { env: helperEnv })
    expect(await readdir(store)).toEqual([])
    expect(await resolveCredentials('docker.io', cfg, { env: helperEnv })).toBeUndefined()
  })
})
