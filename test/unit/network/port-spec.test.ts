import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { createSocket } from 'node:dgram'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConflictError, InvalidArgumentError } from '../../../src/grpc/errors.js'
import {
  ALLOCATE_END,
  ALLOCATE_START,
  allocateHostPorts,
  checkHostPortsFree,
  parseProcNet,
  readHostSockets,
} from '../../../src/network/host-port.js'
import { formatHostPort, parsePortSpec, parsePortSpecs } from '../../../src/network/port-spec.js'

describe('parsePortSpec', () => {
  it.each([
    ['8080', [{ hostPort: 0, containerPort: 8080, protocol: 'tcp', hostIP: '0.0.0.0' }]],
    ['18080:8080', [{ hostPort: 18080, containerPort: 8080, protocol: 'tcp', hostIP: '0.0.0.0' }]],
    ['127.0.0.1:18080:8080', [{ hostPort: 18080, containerPort: 8080, protocol: 'tcp', hostIP: '127.0.0.1' }]],
    ['127.0.0.1::8080', [{ hostPort: 0, containerPort: 8080, protocol: 'tcp', hostIP: '127.0.0.1' }]],
    ['[::1]:8080:80', [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '::1' }]],
    ['[::]::80/udp', [{ hostPort: 0, containerPort: 80, protocol: 'udp', hostIP: '::' }]],
    ['53:53/udp', [{ hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '0.0.0.0' }]],
    ['8080/tcp', [{ hostPort: 0, containerPort: 8080, protocol: 'tcp', hostIP: '0.0.0.0' }]],
    ['9000/SCTP', [{ hostPort: 0, containerPort: 9000, protocol: 'sctp', hostIP: '0.0.0.0' }]],
    ['0:80', [{ hostPort: 0, containerPort: 80, protocol: 'tcp', hostIP: '0.0.0.0' }]],
  ] as const)('%s', (spec, expected) => {
    expect(parsePortSpec(spec)).toEqual(expected)
  })

  it('pairs equal host and container ranges port by port', () => {
    const mappings = parsePortSpec('8000-8005:9000-9005')
    expect(mappings).toHaveLength(6)
    expect(mappings.map((m) => [m.hostPort, m.containerPort])).toEqual([
      [8000, 9000],
      [8001, 9001],
      [8002, 9002],
      [8003, 9003],
      [8004, 9004],
      [8005, 9005],
    ])
  })

  it('leaves every host port of a container range to be chosen when none is given', () => {
    expect(parsePortSpec('127.0.0.1::7000-7002/udp')).toEqual([
      { hostPort: 0, containerPort: 7000, protocol: 'udp', hostIP: '127.0.0.1' },
      { hostPort: 0, containerPort: 7001, protocol: 'udp', hostIP: '127.0.0.1' },
      { hostPort: 0, containerPort: 7002, protocol: 'udp', hostIP: '127.0.0.1' },
    ])
  })

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['70000', /out of range/],
    ['0', /out of range/],
    ['80:0', /out of range/],
    ['65536:80', /out of range/],
    ['8000-8005:9000-9004', /different lengths/],
    ['3000-3001:8080', /different lengths/],
    ['8080/icmp', /unknown protocol/],
    ['8080/tcp/udp', /more than one/],
    ['abc', /not a port/],
    ['80:abc', /not a port/],
    ['9005-9000', /ends before/],
    ['localhost:80:80', /not an IP address/],
    ['::1:8080:80', /brackets/],
    ['[::1:8080:80', /unclosed/],
    ['[::1]x:8080:80', /after "\]"/],
    ['127.0.0.1:', /no container port/],
    ['1.2.3.4:5:6:7', /not an IP address|brackets/],
  ])('rejects %j', (spec, message) => {
    expect(() => parsePortSpec(spec)).toThrow(InvalidArgumentError)
    expect(() => parsePortSpec(spec)).toThrow(message)
  })

  it('parses several specs into one list and formats the host side', () => {
    const all = parsePortSpecs(['80', '[::1]:443:443'])
    expect(all).toHaveLength(2)
    expect(all.map(formatHostPort)).toEqual(['0.0.0.0:0/tcp', '[::1]:443/tcp'])
  })
})

describe('/proc/net parsing', () => {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:4E20 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0',
    '   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0',
    '   2: 0100007F:C350 0100007F:4E20 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0 100 0 0 10 0',
    '   3: 0100007F:C351 0100007F:4E20 06 00000000:00000000 00:00000000 00000000  1000        0 4 1 0 100 0 0 10 0',
    '   4: garbage',
  ].join('\n')
  const tcp6 = [
    '  sl  local_address                         remote_address                        st tx_queue rx_queue',
    '   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000',
    '   1: 00000000000000000000000000000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000',
    '   2: 0000000000000000FFFF00000100007F:1F93 00000000000000000000000000000000:0000 0A 00000000:00000000',
  ].join('\n')

  it('reads addresses in the host byte order, ports and states', () => {
    expect(parseProcNet(tcp, 'tcp', true)).toEqual([
      { protocol: 'tcp', address: '127.0.0.1', port: 20000, state: 10 },
      { protocol: 'tcp', address: '0.0.0.0', port: 8080, state: 10 },
      { protocol: 'tcp', address: '127.0.0.1', port: 50000, state: 1 },
      { protocol: 'tcp', address: '127.0.0.1', port: 50001, state: 6 },
    ])
    expect(parseProcNet(tcp6, 'tcp', true).map((s) => `${s.address} ${s.port}`)).toEqual(['::1 8081', ':: 8082', '127.0.0.1 8083'])
    // s390x prints the words big-endian.
    expect(parseProcNet(tcp.replace('0100007F:4E20', '7F000001:4E20'), 'tcp', false)[0]?.address).toBe('127.0.0.1')
  })

  describe('with a fixture /proc/net', () => {
    let dir: string
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'csdk-procnet-'))
      await writeFile(join(dir, 'tcp'), tcp)
      await writeFile(join(dir, 'tcp6'), tcp6)
      // No udp6: IPv6 disabled.
      const udpLine = `   0: 00000000:${ALLOCATE_START.toString(16).toUpperCase()} 00000000:0000 07 00000000:00000000`
      await writeFile(join(dir, 'udp'), `  sl  local_address rem_address   st\n${udpLine}\n`)
    })
    afterAll(async () => rm(dir, { recursive: true, force: true }))

    it('treats a missing IPv6 table as empty', async () => {
      expect(await readHostSockets('udp', dir)).toEqual([{ protocol: 'udp', address: '0.0.0.0', port: ALLOCATE_START, state: 7 }])
    })

    it('refuses a host port a listener holds on the same address, the wildcard, or any address for a wildcard publish', async () => {
      const options = { procNetDir: dir }
      await expect(checkHostPortsFree([{ hostIP: '127.0.0.1', hostPort: 20000, containerPort: 80, protocol: 'tcp' }], options)).rejects.toThrow(
        'port 127.0.0.1:20000/tcp is already in use',
      )
      await expect(checkHostPortsFree([{ hostPort: 20000, containerPort: 80, protocol: 'tcp' }], options)).rejects.toThrow(
        'port 0.0.0.0:20000/tcp is already in use',
      )
      await expect(checkHostPortsFree([{ hostIP: '10.1.2.3', hostPort: 8080, containerPort: 80, protocol: 'tcp' }], options)).rejects.toThrow(ConflictError)
      await expect(checkHostPortsFree([{ hostIP: '127.0.0.1', hostPort: 8082, containerPort: 80, protocol: 'tcp' }], options)).rejects.toThrow(
        /8082/,
      )
      await expect(checkHostPortsFree([{ hostIP: '127.0.0.1', hostPort: 8083, containerPort: 80, protocol: 'tcp' }], options)).rejects.toThrow(/8083/)
      await expect(checkHostPortsFree([{ hostIP: '::1', hostPort: 8081, containerPort: 80, protocol: 'tcp' }], options)).rejects.toThrow(
        'port [::1]:8081/tcp is already in use',
      )
    })

    it('lets through what does not compete: another address, an outgoing connection, another protocol, another family', async () => {
      const options = { procNetDir: dir }
      await checkHostPortsFree(
        [
          { hostIP: '10.1.2.3', hostPort: 20000, containerPort: 80, protocol: 'tcp' }, // listener is on 127.0.0.1 only
          { hostIP: '127.0.0.1', hostPort: 50000, containerPort: 80, protocol: 'tcp' }, // an established connection's port
          { hostPort: 20000, containerPort: 80, protocol: 'udp' },
          { hostIP: '127.0.0.1', hostPort: 8081, containerPort: 80, protocol: 'tcp' }, // ::1 listener, IPv4 publish
          { hostPort: 20000, containerPort: 80, protocol: 'sctp' },
          { hostPort: 0, containerPort: 80, protocol: 'tcp' },
        ],
        options,
      )
    })

    it('refuses ports published by others (reserved) and the same port twice in one call', async () => {
      const options = { procNetDir: dir, reserved: [{ hostIP: '0.0.0.0', hostPort: 30000, containerPort: 80, protocol: 'tcp' as const }] }
      await expect(checkHostPortsFree([{ hostIP: '127.0.0.1', hostPort: 30000, containerPort: 80, protocol: 'tcp' }], options)).rejects.toThrow(
        'port 127.0.0.1:30000/tcp is already in use (published as 0.0.0.0:30000/tcp)',
      )
      await expect(
        checkHostPortsFree(
          [
            { hostPort: 30001, containerPort: 80, protocol: 'udp' },
            { hostPort: 30001, containerPort: 81, protocol: 'udp' },
          ],
          { procNetDir: dir },
        ),
      ).rejects.toThrow(ConflictError)
    })

    it('chooses distinct free ports in the Docker range, skipping used and reserved ones', async () => {
      const reserved = [{ hostPort: ALLOCATE_START + 1, containerPort: 1, protocol: 'udp' as const }]
      const chosen = await allocateHostPorts(
        [
          { hostPort: 0, containerPort: 53, protocol: 'udp' },
          { hostPort: 0, containerPort: 54, protocol: 'udp' },
          { hostPort: 12345, containerPort: 55, protocol: 'udp' },
        ],
        { procNetDir: dir, reserved },
      )
      expect(chosen[2]).toEqual({ hostPort: 12345, containerPort: 55, protocol: 'udp' })
      const ports = chosen.slice(0, 2).map((m) => m.hostPort)
      expect(new Set(ports).size).toBe(2)
      for (const port of ports) {
        expect(port).toBeGreaterThanOrEqual(ALLOCATE_START)
        expect(port).toBeLessThanOrEqual(ALLOCATE_END)
        expect(port).not.toBe(ALLOCATE_START) // bound in the udp fixture
        expect(port).not.toBe(ALLOCATE_START + 1) // reserved
      }
    })
  })
})

describe('host ports on this machine', () => {
  let server: Server
  let port: number
  beforeAll(async () => {
    server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    port = address.port
  })
  afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())))

  it('refuses a port a node:net server listens on, with a ConflictError naming it', async () => {
    const wanted = parsePortSpec(`127.0.0.1:${port}:80`)
    const error: unknown = await checkHostPortsFree(wanted).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(ConflictError)
    expect((error as Error).message).toBe(`port 127.0.0.1:${port}/tcp is already in use`)
    await expect(checkHostPortsFree(parsePortSpec(`${port}:80`))).rejects.toThrow(ConflictError)
  })

  it('sees a bound UDP socket', async () => {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    try {
      const udpPort = socket.address().port
      await expect(checkHostPortsFree(parsePortSpec(`127.0.0.1:${udpPort}:53/udp`))).rejects.toThrow(`port 127.0.0.1:${udpPort}/udp is already in use`)
    } finally {
      await new Promise<void>((resolve) => socket.close(() => resolve()))
    }
  })

  it('allocates a port nobody listens on, which can then be bound', async () => {
    const [mapping] = await allocateHostPorts(parsePortSpec('127.0.0.1::80'))
    expect(mapping?.hostPort).toBeGreaterThanOrEqual(ALLOCATE_START)
    await checkHostPortsFree([mapping!])
    const probe = createServer()
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject)
      probe.listen(mapping!.hostPort, '127.0.0.1', resolve)
    })
    await new Promise<void>((resolve) => probe.close(() => resolve()))
  })
})
