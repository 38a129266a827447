// createContainer's options checked at run time, before anything is read or made.
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError } from '../../../src/grpc/errors.js'
import { checkCreateContainerOptions, CREATE_CONTAINER_OPTION_KEYS } from '../../../src/containers/create-container.js'

function refused(options: unknown, message: string | RegExp): void {
  expect(() => checkCreateContainerOptions(options)).toThrow(InvalidArgumentError)
  expect(() => checkCreateContainerOptions(options)).toThrow(message)
}

describe('checkCreateContainerOptions', () => {
  it('accepts container, flag and call options', () => {
    expect(() => checkCreateContainerOptions({ image: 'busybox', args: ['true'], env: { A: '1' }, memory: '32m', labels: { a: 'b' }, tty: true, timeoutMs: 5 })).not.toThrow()
    for (const key of ['image', 'args', 'entrypoint', 'user', 'specOptions', 'labels', 'snapshotter', 'runtime', 'tty', 'signal', 'timeoutMs', 'memory', 'env']) {
      expect(Object.keys(CREATE_CONTAINER_OPTION_KEYS)).toContain(key)
    }
  })

  it('names an unknown key and the closest known one', () => {
    refused({ image: 'busybox', memroy: '32m' }, "unknown option 'memroy' of containers.create(): did you mean 'memory'?")
    refused({ image: 'busybox', lables: {} }, "did you mean 'labels'?")
  })

  it('refuses run()\'s own keys (run() hands create only the container options)', () => {
    refused({ image: 'busybox', name: 'web' }, /unknown option 'name' of containers.create\(\)/)
    refused({ image: 'busybox', name: 'web', detach: true, rm: false, stdio: 'pipe', network: 'none' }, "(also unknown: 'detach', 'rm', 'stdio', 'network')")
    refused({ image: 'busybox', ports: ['80:80'] }, /unknown option 'ports' of containers.create\(\)/)
  })

  it('wants an options object with an image', () => {
    refused(undefined, /containers.create\(\) needs options with an image/)
    refused('busybox', 'options of containers.create() must be an object')
    refused({ args: ['true'] }, 'containers.create() image must be an image reference or an Image, got undefined')
  })

  it('refuses args, entrypoint, env, labels and specOptions of the wrong shape', () => {
    refused({ image: 'busybox', args: 'sleep 30' }, "containers.create() args must be an array, e.g. ['sleep', '30']")
    refused({ image: 'busybox', entrypoint: 'sh' }, /entrypoint must be an array/)
    refused({ image: 'busybox', env: { A: true } }, "containers.create() env.A must be a string, got true; write 'true'")
    refused({ image: 'busybox', labels: ['a=b'] }, /labels must be an object of strings/)
    refused({ image: 'busybox', specOptions: {} }, /specOptions must be an array of spec options/)
    refused({ image: 'busybox', user: 0 }, 'containers.create() user must be a string, got 0')
  })
})
