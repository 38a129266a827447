import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chmod, mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  credentialHelperErase,
  credentialHelperGet,
  credentialHelperStore,
  helperProgram,
  runCredentialHelper,
} from '../../../src/registry/credential-helper.js'
import { CanceledError } from '../../../src/grpc/errors.js'
import { RegistryError } from '../../../src/registry/registry-error.js'

const SECRET = 's3cr3t-P4ssw0rd-xyz'

// Fake helpers, written to a temp dir put first on the PATH the helper is spawned with.
const helpers: Record<string, string> = {
  // A working helper keeping one file per server URL under $FAKE_STORE.
  fake: `#!/bin/sh
input=$(cat)
name() { printf %s "$1" | tr -c 'A-Za-z0-9.' _; }
case "$1" in
  get)
    f="$FAKE_STORE/$(name "$input")"
    if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  store)
    url=$(printf %s "$input" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p')
    printf %s "$input" > "$FAKE_STORE/$(name "$url")" ;;
  erase)
    f="$FAKE_STORE/$(name "$input")"
    if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  *) echo "unknown action $1"; exit 2 ;;
esac
`,
  // Fails and echoes its whole input back, as a careless helper might.
  echo: `#!/bin/sh
input=$(cat)
echo "cannot store $input"
exit 3
`,
  // Fails with a JSON document that could be a credential record.
  jsonerr: `#!/bin/sh
cat >/dev/null
echo '{"Username":"u","Secret":"${SECRET}"}'
exit 1
`,
  // Answers something that is not JSON but contains the secret.
  garbage: `#!/bin/sh
cat >/dev/null
echo "Secret=${SECRET} not json"
`,
  // Answers the token form of credentials.
  token: `#!/bin/sh
cat >/dev/null
echo '{"ServerURL":"","Username":"<token>","Secret":"refresh-${SECRET}"}'
`,
  // Answers an empty record, which some helpers do for "nothing stored".
  empty: `#!/bin/sh
cat >/dev/null
echo '{"ServerURL":"x","Username":"","Secret":""}'
`,
  // Never answers.
  slow: `#!/bin/sh
exec sleep 30
`,
  // Prints far too much.
  loud: `#!/bin/sh
head -c 3000000 /dev/zero
`,
  // Writes its error to stderr only.
  stderr: `#!/bin/sh
cat >/dev/null
echo "keychain locked" >&2
exit 1
`,
}

let dir: string
let store: string
let env: NodeJS.ProcessEnv

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'csdk-credhelper-'))
  store = join(dir, 'store')
  await mkdir(store)
  const bin = join(dir, 'bin')
  await mkdir(bin)
  for (const [name, script] of Object.entries(helpers)) {
    const path = join(bin, `docker-credential-${name}`)
    await writeFile(path, script)
    await chmod(path, 0o755)
  }
  // A helper file without the execute bit.
  await writeFile(join(bin, 'docker-credential-noexec'), '#!/bin/sh\n')
  env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, FAKE_STORE: store }
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

function expectNoSecret(err: unknown): void {
  const text = [String(err), (err as Error).message, String((err as Error).cause ?? ''), JSON.stringify(err)].join('\n')
  expect(text).not.toContain(SECRET)
}

async function caught(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryError)
    return err as RegistryError
  }
  throw new Error('expected a rejection')
}

/** The CanceledError `promise` rejects with (an abort is never a RegistryError). */
async function canceled(promise: Promise<unknown>): Promise<CanceledError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(CanceledError)
    return err as CanceledError
  }
  throw new Error('expected a rejection')
}

describe('credential helper protocol', () => {
  it('stores, gets and erases through a helper', async () => {
    await credentialHelperStore('fake', { serverUrl: 'registry.example.com', username: 'alice', secret: SECRET }, { env })
    expect(await readdir(store)).toEqual(['registry.example.com'])

    const got = await credentialHelperGet('fake', 'registry.example.com', { env })
    expect(got).toEqual({ serverUrl: 'registry.example.com', username: 'alice', secret: SECRET })

    await credentialHelperErase('fake', 'registry.example.com', { env })
    expect(await readdir(store)).toEqual([])
  })

  it('"credentials not found" from get is no credentials, not an error', async () => {
    expect(await credentialHelperGet('fake', 'nothing.example.com', { env })).toBeUndefined()
  })

  it('erasing what is not stored succeeds', async () => {
    await expect(credentialHelperErase('fake', 'nothing.example.com', { env })).resolves.toBeUndefined()
  })

  it('a helper that is not installed yields no credentials on get', async () => {
    expect(await credentialHelperGet('not-installed', 'r.example.com', { env })).toBeUndefined()
    expect(await runCredentialHelper('not-installed', 'get', 'x', { env })).toEqual({ status: 'missing' })
  })

  it('a helper that is not installed fails store and erase', async () => {
    const err = await caught(credentialHelperStore('not-installed', { serverUrl: 'r', username: 'u', secret: SECRET }, { env }))
    expect(err.code).toBe('CredentialHelper')
    expect(err.message).toContain('docker-credential-not-installed')
    expect(err.message).toContain('not installed')
    expectNoSecret(err)
    await expect(credentialHelperErase('not-installed', 'r', { env })).rejects.toMatchObject({ code: 'CredentialHelper' })
  })

  it('recognises the identity-token username', async () => {
    const got = await credentialHelperGet('token', 'r.example.com', { env })
    expect(got).toEqual({ serverUrl: 'r.example.com', username: '<token>', secret: `refresh-${SECRET}` })
  })

  it('an empty answer is no credentials', async () => {
    expect(await credentialHelperGet('empty', 'r.example.com', { env })).toBeUndefined()
  })

  it('a store failure never quotes the secret, even when the helper echoes it', async () => {
    const err = await caught(credentialHelperStore('echo', { serverUrl: 'r.example.com', username: 'alice', secret: SECRET }, { env }))
    expect(err.code).toBe('CredentialHelper')
    expect(err.message).toMatch(/exited with status 3/)
    expectNoSecret(err)
  })

  it('drops error output that looks like a credential record', async () => {
    const err = await caught(credentialHelperGet('jsonerr', 'r.example.com', { env }))
    expect(err.message).toBe('docker-credential-jsonerr get: exited with status 1')
    expectNoSecret(err)
  })

  it('an answer that is not JSON is an error without the answer', async () => {
    const err = await caught(credentialHelperGet('garbage', 'r.example.com', { env }))
    expect(err.code).toBe('CredentialHelper')
    expect(err.message).toContain('not JSON')
    expectNoSecret(err)
  })

  it('reports stderr when stdout is empty', async () => {
    const err = await caught(credentialHelperGet('stderr', 'r.example.com', { env }))
    expect(err.message).toBe('docker-credential-stderr get: exited with status 1: keychain locked')
  })

  it('kills a helper that takes too long', async () => {
    const started = Date.now()
    const err = await caught(credentialHelperGet('slow', 'r.example.com', { env, timeoutMs: 200 }))
    expect(err.code).toBe('CredentialHelper')
    expect(err.message).toContain('timed out after 200 ms')
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('stops on abort', async () => {
    const controller = new AbortController()
    const pending = credentialHelperGet('slow', 'r.example.com', { env, signal: controller.signal })
    const reason = new Error('user gave up')
    setTimeout(() => controller.abort(reason), 50)
    // An abort is the caller's doing, not the helper's: CanceledError with the signal's reason as cause.
    const err = await canceled(pending)
    expect(err.message).toContain('aborted')
    expect(err.cause).toBe(reason)
  })

  it('rejects an already aborted signal without waiting', async () => {
    const signal = AbortSignal.abort()
    const started = Date.now()
    const err = await canceled(credentialHelperGet('slow', 'r', { env, signal }))
    expect(err.message).toContain('aborted')
    expect(err.cause).toBe(signal.reason)
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('refuses output beyond the size cap', async () => {
    const err = await caught(credentialHelperGet('loud', 'r.example.com', { env }))
    expect(err.message).toContain('output larger than')
  })

  it('a helper that cannot be executed is an error, not "missing"', async () => {
    const err = await caught(credentialHelperGet('noexec', 'r.example.com', { env }))
    expect(err.code).toBe('CredentialHelper')
    expect(err.message).toContain('EACCES')
  })

  it('an environment spawn refuses is an error that does not quote the environment', async () => {
    const err = await caught(runCredentialHelper('fake', 'get', 'r', { env: { ...env, TOKEN: `${SECRET}\0` } }))
    expect(err.code).toBe('CredentialHelper')
    expectNoSecret(err)
  })

  it('a bad helper name rejects instead of throwing', async () => {
    await expect(runCredentialHelper('../x', 'get', 'r', { env })).rejects.toMatchObject({ code: 'InvalidConfig' })
  })

  it('rejects helper names that would be paths', () => {
    for (const name of ['', '../evil', 'a/b', 'a\\b', '..']) {
      expect(() => helperProgram(name)).toThrow(RegistryError)
    }
    expect(helperProgram('desktop')).toBe('docker-credential-desktop')
  })

  it('uses an injected runner instead of spawning', async () => {
    const calls: unknown[] = []
    const got = await credentialHelperGet('anything', 'r.example.com', {
      run: async (helper, action, input) => {
        calls.push([helper, action, input])
        return { status: 'ok', stdout: '{"Username":"bob","Secret":"pw"}' }
      },
    })
    expect(calls).toEqual([['anything', 'get', 'r.example.com']])
    expect(got).toEqual({ serverUrl: 'r.example.com', username: 'bob', secret: 'pw' })
  })

  it('rejects answers of the wrong shape', async () => {
    const run = (stdout: string) => async () => ({ status: 'ok' as const, stdout })
    await expect(credentialHelperGet('x', 'r', { run: run('[1]') })).rejects.toMatchObject({ code: 'CredentialHelper' })
    await expect(credentialHelperGet('x', 'r', { run: run('"str"') })).rejects.toMatchObject({ code: 'CredentialHelper' })
    await expect(credentialHelperGet('x', 'r', { run: run('{"Username":1,"Secret":"s"}') })).rejects.toMatchObject({
      code: 'CredentialHelper',
    })
  })
})
