// Pull, push, import and export options checked at run time, before anything is fetched or read.
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import type { ClientCore } from '../../../src/client/client.js'
import { checkPullOptions, pullImage } from '../../../src/images/pull.js'
import { transferPull } from '../../../src/images/transfer-pull.js'
import { pushImage } from '../../../src/images/push.js'
import { importImages } from '../../../src/images/archive/import-images.js'
import { exportImages } from '../../../src/images/archive/export-images.js'

// The checks come first: a client that is never touched proves nothing was asked of the daemon.
const untouched = new Proxy({}, { get: () => { throw new Error('the client was used') } }) as ClientCore

describe('checkPullOptions', () => {
  it('names an unknown key with the closest known one, nested auth and registry too', () => {
    expect(() => checkPullOptions({ platfrom: 'linux/arm64' })).toThrow("unknown option 'platfrom' of pull(): did you mean 'platform'?")
    expect(() => checkPullOptions({ auth: { username: 'u', pasword: 'p' } })).toThrow("unknown option 'pasword' of pull() auth: did you mean 'password'?")
    expect(() => checkPullOptions({ registry: { insecure: ['localhost:5000'], configDir: ['/etc'] } })).toThrow("did you mean 'configDirs'?")
    expect(() => checkPullOptions({ platform: 'linux/amd64', auth: () => undefined, registry: { insecure: ['x'] }, timeoutMs: 5, strategy: 'client' })).not.toThrow()
  })

  it('refuses values of the wrong shape', () => {
    expect(() => checkPullOptions({ platforms: 'linux/amd64' })).toThrow(/pull\(\) platforms must be an array/)
    expect(() => checkPullOptions({ strategy: 'daemon' })).toThrow("pull() strategy must be 'client' or 'transfer', got \"daemon\"")
    expect(() => checkPullOptions({ onProgress: true })).toThrow('pull() onProgress must be a function, got true')
    expect(() => checkPullOptions({ registry: { insecure: 'localhost:5000' } })).toThrow(/pull\(\) registry insecure must be an array of strings/)
    expect(() => checkPullOptions(null)).toThrow('options of pull() must be an object')
  })

  it('rejects (not throws) from pullImage, before the client is used', async () => {
    const pending = pullImage(untouched, 'busybox', { memroy: 1 } as never)
    await expect(pending).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(pullImage(untouched, 'busybox', { memroy: 1 } as never)).rejects.toThrow(/unknown option 'memroy' of pull\(\)/)
  })

  it('refuses in transferPull, and what the Transfer service cannot honour', async () => {
    await expect(transferPull(untouched, 'busybox', { platfrom: 'x' } as never)).rejects.toThrow("did you mean 'platform'?")
    await expect(transferPull(untouched, 'busybox', { platforms: ['linux/arm64'] })).rejects.toThrow("pull() platforms is not available with strategy 'transfer'")
    await expect(transferPull(untouched, 'busybox', { registry: { insecure: ['localhost'] } })).rejects.toThrow(/registry.insecure is not available/)
  })
})

describe('push, import and export options', () => {
  it('are checked before the client is used', async () => {
    await expect(pushImage(untouched, 'busybox', { chunksize: 5 } as never)).rejects.toThrow("unknown option 'chunksize' of images.push(): did you mean 'chunkSize'?")
    await expect(pushImage(untouched, 'busybox', { auth: { identitytoken: 'x' } } as never)).rejects.toThrow("did you mean 'identityToken'?")
    await expect(pushImage(untouched, 'busybox', { timeoutMs: 5 } as never)).rejects.toBeInstanceOf(InvalidArgumentError)
    await expect(importImages(untouched, '/nonexistent.tar', { namePrefx: 'x' } as never)).rejects.toThrow("unknown option 'namePrefx' of images.import(): did you mean 'namePrefix'?")
    await expect(exportImages(untouched, ['busybox'], '/nonexistent/out.tar', { platform: 'linux/amd64' } as never)).rejects.toThrow(
      "unknown option 'platform' of images.export(): did you mean 'platforms'?",
    )
    await expect(exportImages(untouched, 'busybox' as never, '/nonexistent/out.tar')).rejects.toThrow(/images.export\(\) references must be an array/)
  })
})
