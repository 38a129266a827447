import { describe, it, expect } from 'vitest'
import { isLocalhost, splitHostPort } from '../../../src/registry/host-port.js'

describe('splitHostPort', () => {
  it.each([
    ['registry.example.com', 'registry.example.com', ''],
    ['registry.example.com:5000', 'registry.example.com', '5000'],
    ['[::1]:5000', '::1', '5000'],
    ['[::1]', '::1', ''],
    ['::1', '::1', ''],
    ['fd00::1', 'fd00::1', ''],
    ['127.0.0.1:80', '127.0.0.1', '80'],
    ['host:', 'host', ''],
  ])('%s → %s / %j', (value, host, port) => {
    expect(splitHostPort(value)).toEqual({ host, port })
  })
})

describe('isLocalhost', () => {
  it.each(['localhost', 'LOCALHOST', 'localhost:5000', '127.0.0.1', '127.0.0.1:5000', '127.255.0.9:1', '::1', '[::1]:5000', '[0:0:0:0:0:0:0:1]', '[::ffff:127.0.0.1]:5000'])(
    '%s is local',
    (value) => {
      expect(isLocalhost(value)).toBe(true)
    },
  )

  it.each(['localhost.example.com', 'mylocalhost', '128.0.0.1', '10.0.0.1:5000', '[::2]:5000', 'docker.io', '0.0.0.0'])('%s is not local', (value) => {
    expect(isLocalhost(value)).toBe(false)
  })
})
