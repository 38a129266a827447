import { describe, expect, it } from 'vitest'
import { buildContainerInspect, dockerStatus, portMap, restartPolicy, ZERO_TIME } from '../../../src/docker/container-inspect.js'
import { buildContainerRow, containerCommand, ellipsis, formatPorts, humanDuration, timeSince } from '../../../src/docker/container-rows.js'
import type { ContainerSnapshot, TaskState } from '../../../src/docker/container-state.js'
import { mountLabels, nerdctlLabels } from '../../../src/nerdctl/labels.js'

const id = 'f'.repeat(8) + '0'.repeat(56)
const created = new Date('2024-01-02T03:04:05.678Z')
const now = new Date('2024-01-02T03:14:05.678Z')

function snapshot(task: TaskState | undefined, extra: Partial<ContainerSnapshot> = {}, labels: Record<string, string> = {}): ContainerSnapshot {
  return {
    info: {
      id,
      image: 'docker.io/library/busybox:latest',
      labels: { ...nerdctlLabels({ namespace: 'default', id, name: 'box', stateDir: '/d/containers/default/' + id, networks: ['none'] }), app: 'x', ...labels },
      runtime: 'io.containerd.runc.v2',
      snapshotter: 'overlayfs',
      snapshotKey: id,
      createdAt: created,
      updatedAt: created,
    },
    spec: {
      ociVersion: '1.3.0',
      hostname: 'ignored-when-labelled',
      process: { user: { uid: 0, gid: 0 }, cwd: '/work', args: ['sh', '-c', 'echo hello world && sleep 1000'], env: ['PATH=/bin', 'A=1'] },
      root: { path: 'rootfs', readonly: true },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/etc/hostname', type: 'bind', source: '/d/containers/default/' + id + '/hostname', options: ['bind', 'rprivate'] },
        { destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'ro', 'rslave'] },
      ],
      annotations: { 'nerdctl/name': 'box', 'org.example/team': 'a' },
      linux: { resources: { memory: { limit: 67108864 }, pids: { limit: 64 }, cpu: { shares: 512, cpus: '0' } }, sysctl: { 'net.ipv4.ip_forward': '1' } },
    },
    task,
    startedAt: undefined,
    ports: [],
    files: {},
    ...extra,
  }
}

const running: TaskState = { status: 'running', pid: 4242, exitStatus: 0, exitedAt: undefined }
const exited: TaskState = { status: 'stopped', pid: 0, exitStatus: 3, exitedAt: new Date('2024-01-02T03:13:05.678Z') }

describe('inspect JSON', () => {
  it('describes a created container', () => {
    const json = buildContainerInspect(snapshot(undefined))
    expect(json.Id).toBe(id)
    expect(json.Created).toBe('2024-01-02T03:04:05.678Z')
    expect(json.Path).toBe('sh')
    expect(json.Args).toEqual(['-c', 'echo hello world && sleep 1000'])
    expect(json.State).toEqual({
      Status: 'created', Running: false, Paused: false, Restarting: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME,
    })
    expect(json.Name).toBe('box')
    expect(json.Image).toBe('docker.io/library/busybox:latest')
    expect(json.Driver).toBe('overlayfs')
    expect(json.Platform).toBe('linux')
    expect(json.HostnamePath).toBe('/d/containers/default/' + id + '/hostname')
    expect(json.LogPath).toBe('')
    expect(json.Config).toMatchObject({ Hostname: id.slice(0, 12), Env: ['PATH=/bin', 'A=1'], Cmd: ['sh', '-c', 'echo hello world && sleep 1000'], Image: json.Image, WorkingDir: '/work' })
    expect(json.Config.Labels['app']).toBe('x')
    expect(json.HostConfig).toMatchObject({
      NetworkMode: 'none', AutoRemove: false, ExtraHosts: [], ReadonlyRootfs: true, Runtime: 'io.containerd.runc.v2', Memory: 67108864, PidsLimit: 64,
      CpuShares: 512, CpusetCpus: '0', Sysctls: { 'net.ipv4.ip_forward': '1' }, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      Annotations: { 'org.example/team': 'a' }, LogConfig: { driver: 'json-file', opts: {} }, ContainerIDFile: '',
    })
    // No recorded mounts: the spec's bind mounts, with nerdctl's RW/propagation reading of the options.
    expect(json.Mounts).toEqual([
      { Type: 'bind', Source: '/d/containers/default/' + id + '/hostname', Destination: '/etc/hostname', Mode: 'bind,rprivate', RW: true, Propagation: 'rprivate' },
      { Type: 'bind', Source: '/srv', Destination: '/data', Mode: 'rbind,ro,rslave', RW: false, Propagation: 'rslave' },
    ])
    expect(JSON.parse(JSON.stringify(json))).toEqual(json)
  })

  it('describes running, paused and exited containers', () => {
    const startedAt = new Date('2024-01-02T03:05:00.000Z')
    const files = { logPath: '/d/' + id + '-json.log', hostnamePath: '/d/hostname' }
    const up = buildContainerInspect(snapshot(running, { startedAt, files }))
    expect(up.State).toMatchObject({ Status: 'running', Running: true, Pid: 4242, StartedAt: '2024-01-02T03:05:00.000Z', FinishedAt: ZERO_TIME })
    expect(up.LogPath).toBe(files.logPath)
    expect(up.HostnamePath).toBe('/d/hostname')
    const paused = buildContainerInspect(snapshot({ ...running, status: 'paused' }, { startedAt }))
    expect(paused.State).toMatchObject({ Status: 'paused', Running: false, Paused: true, Pid: 4242 })
    const down = buildContainerInspect(snapshot(exited, { startedAt }))
    expect(down.State).toMatchObject({ Status: 'exited', Running: false, Pid: 0, ExitCode: 3, FinishedAt: '2024-01-02T03:13:05.678Z' })
  })

  it('reads mounts, ports, log config and restart state from labels', () => {
    const mounts = [{ Type: 'tmpfs', Source: '', Destination: '/run', Mode: 'size=64m', RW: true, Propagation: '' }]
    const labels = {
      ...mountLabels(mounts),
      'nerdctl/log-config': '{"driver":"json-file","opts":{"max-size":"1m"},"address":"/s.sock"}',
      'nerdctl/auto-remove': 'true',
      'containerd.io/restart.status': 'running',
      'containerd.io/restart.policy': 'on-failure:3',
      'containerd.io/restart.count': '1',
    }
    const ports = [{ HostPort: 8080, ContainerPort: 80, Protocol: 'tcp', HostIP: '0.0.0.0' }]
    const json = buildContainerInspect(snapshot(exited, { ports }, labels))
    expect(json.Mounts).toEqual(mounts)
    expect(json.HostConfig.Tmpfs).toEqual({ '/run': 'size=64m' })
    expect(json.HostConfig.LogConfig).toEqual({ driver: 'json-file', opts: { 'max-size': '1m' }, address: '/s.sock' })
    expect(json.HostConfig.AutoRemove).toBe(true)
    expect(json.HostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 })
    expect(json.HostConfig.PortBindings).toEqual({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] })
    expect(json.NetworkSettings.Ports).toEqual(json.HostConfig.PortBindings)
    expect(json.RestartCount).toBe(1)
    expect(json.State).toMatchObject({ Status: 'restarting', Restarting: true })
  })

  it('maps task states and restart labels to Docker states', () => {
    expect(dockerStatus({}, undefined)).toBe('created')
    expect(dockerStatus({}, { ...running, status: 'created' })).toBe('created')
    expect(dockerStatus({}, { ...running, status: 'pausing' })).toBe('paused')
    expect(dockerStatus({}, { ...running, status: 'unknown' })).toBe('unknown')
    const always = { 'containerd.io/restart.status': 'running' }
    expect(dockerStatus(always, exited)).toBe('restarting')
    expect(dockerStatus({ ...always, 'containerd.io/restart.policy': 'on-failure' }, { ...exited, exitStatus: 0 })).toBe('exited')
    expect(dockerStatus({ ...always, 'containerd.io/restart.policy': 'on-failure:2', 'containerd.io/restart.count': '2' }, exited)).toBe('exited')
    expect(dockerStatus({ ...always, 'containerd.io/restart.policy': 'unless-stopped', 'containerd.io/restart.explicitly-stopped': 'true' }, exited)).toBe('exited')
    expect(dockerStatus({ 'containerd.io/restart.status': 'stopped' }, exited)).toBe('exited')
    expect(restartPolicy({ 'containerd.io/restart.status': 'running' })).toEqual({ Name: 'always', MaximumRetryCount: 0 })
    expect(portMap([{ HostPort: 53, ContainerPort: 53, Protocol: 'UDP', HostIP: '' }])).toEqual({ '53/udp': [{ HostIp: '', HostPort: '53' }] })
  })
})

describe('ps rows', () => {
  it('show what nerdctl ps shows', () => {
    const row = buildContainerRow(snapshot(undefined), { now })
    expect(row).toMatchObject({
      ID: id.slice(0, 12),
      Image: 'docker.io/library/busybox:latest',
      Command: '"sh -c echo hello wo…"',
      Created: '10 minutes ago',
      Status: 'Created',
      State: 'created',
      Ports: '',
      Names: 'box',
      Runtime: 'io.containerd.runc.v2',
    })
    expect(buildContainerRow(snapshot(undefined), { now, truncate: false })).toMatchObject({ ID: id, Command: '"sh -c echo hello world && sleep 1000"' })
    expect(buildContainerRow(snapshot(running), { now }).Status).toBe('Up')
    expect(buildContainerRow(snapshot(running, { startedAt: new Date(now.getTime() - 5000) }), { now }).Status).toBe('Up 5 seconds')
    expect(buildContainerRow(snapshot({ ...running, status: 'paused' }), { now }).Status).toBe('Paused')
    expect(buildContainerRow(snapshot(exited), { now }).Status).toBe('Exited (3) About a minute ago')
    expect(buildContainerRow(snapshot(exited, {}, { 'containerd.io/restart.status': 'running' }), { now }).Status).toBe('Restarting (3) About a minute ago')
  })

  it('format ports like ps: ranges merged, grouped by address and protocol', () => {
    expect(formatPorts([])).toBe('')
    expect(formatPorts([{ HostPort: 3000, ContainerPort: 8080, Protocol: 'tcp', HostIP: '127.0.0.1' }])).toBe('127.0.0.1:3000->8080/tcp')
    expect(
      formatPorts([
        { HostPort: 3001, ContainerPort: 8081, Protocol: 'tcp', HostIP: '0.0.0.0' },
        { HostPort: 3000, ContainerPort: 8080, Protocol: 'tcp', HostIP: '0.0.0.0' },
        { HostPort: 3002, ContainerPort: 8082, Protocol: 'udp', HostIP: '0.0.0.0' },
        { HostPort: 3003, ContainerPort: 8083, Protocol: 'udp', HostIP: '0.0.0.0' },
      ]),
    ).toBe('0.0.0.0:3000-3001->8080-8081/tcp, 0.0.0.0:3002-3003->8082-8083/udp')
    expect(
      formatPorts([
        { HostPort: 9090, ContainerPort: 90, Protocol: 'tcp', HostIP: '0.0.0.0' },
        { HostPort: 8080, ContainerPort: 80, Protocol: 'tcp', HostIP: '0.0.0.0' },
      ]),
    ).toBe('0.0.0.0:8080->80/tcp, 0.0.0.0:9090->90/tcp')
  })

  it('word durations like Docker', () => {
    const cases: [number, string][] = [
      [0, 'Less than a second'], [1000, '1 second'], [59_000, '59 seconds'], [60_000, 'About a minute'], [3_540_000, '59 minutes'],
      [3_600_000, 'About an hour'], [86_400_000, '24 hours'], [4 * 86_400_000, '4 days'], [21 * 86_400_000, '3 weeks'],
      [365 * 86_400_000, '12 months'], [4 * 365 * 86_400_000, '4 years'],
    ]
    for (const [ms, text] of cases) expect(humanDuration(ms)).toBe(text)
    expect(timeSince(new Date(0), new Date(2000))).toBe('2 seconds ago')
  })

  it('cut commands like nerdctl', () => {
    expect(ellipsis('abc', 5)).toBe('abc')
    expect(ellipsis('abcdef', 5)).toBe('abcd…')
    expect(ellipsis('abcdef', 1)).toBe('a')
    expect(ellipsis('abc', 0)).toBe('')
    expect(containerCommand({})).toBe('')
    expect(containerCommand({ process: { user: { uid: 0, gid: 0 }, cwd: '/', args: ['echo', 'a"b'] } })).toBe('"echo a\\"b"')
  })
})
