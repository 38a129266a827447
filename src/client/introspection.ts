import type { Platform as PlatformMessage } from '../gen/containerd/types/platform_pb.js'
import type { CallOptions } from '../grpc/call-options.js'
import type { Services } from './services.js'
import { toDate } from './time.js'

/** An OS/architecture pair, as in the OCI image spec. */
export interface Platform {
  /** Operating system, e.g. `linux`. */
  os: string
  /** CPU architecture in GOARCH terms, e.g. `amd64`, `arm64`. */
  architecture: string
  /** Architecture variant, e.g. `v7` for arm. */
  variant?: string
  /** OS version (Windows images only). */
  osVersion?: string
}

/** One plugin loaded (or failed to load) by the daemon. */
export interface PluginInfo {
  /** Plugin type, e.g. `io.containerd.snapshotter.v1`. */
  type: string
  /** Plugin id within its type, e.g. `overlayfs`. */
  id: string
  /** Types of plugins it depends on. */
  requires: string[]
  /** Platforms it supports (snapshotters and runtimes report them). */
  platforms: Platform[]
  /** Values the plugin exports, e.g. a snapshotter's root directory. */
  exports: Record<string, string>
  /** Capabilities, e.g. `remap-ids`. */
  capabilities: string[]
  /** Why the plugin failed to initialise, when it did; such a plugin is present but unusable. */
  initError?: PluginInitError
}

/** Why a plugin failed to initialise. */
export interface PluginInitError {
  /** The gRPC code of the failure. */
  code: number
  /** containerd's message, e.g. `devmapper not configured`. */
  message: string
}

/** A deprecated feature the daemon saw in use. */
export interface DeprecationWarning {
  /** Stable id of the deprecation, e.g. `io.containerd.deprecation/pull-schema-1-image`. */
  id: string
  /** What is deprecated and what to do instead. */
  message: string
  /** When it was last used. */
  lastOccurrence: Date | undefined
}

/** Facts about the running daemon. */
export interface ServerInfo {
  /** A UUID that stays the same across restarts of the same daemon root. */
  uuid: string
  /** The daemon's pid (containerd ≥ 1.7; 0 before). */
  pid: number
  /** The daemon's pid namespace inode (containerd ≥ 1.7; 0 before). */
  pidns: number
  /** Deprecated features the daemon saw in use (containerd ≥ 2.0). */
  deprecations: DeprecationWarning[]
}

/** Options for {@link Introspection.plugins}. */
export interface PluginsOptions extends CallOptions {
  /**
   * containerd filters (`type==io.containerd.snapshotter.v1`, `id==overlayfs`, `capabilities==…`);
   * separate strings are OR-ed, comma-separated terms in one string are AND-ed. Default: all plugins.
   */
  filters?: string[]
}

/** What the daemon knows about itself: plugins and server identity. */
export class Introspection {
  /** @internal */
  constructor(private readonly services: Services) {}

  /** Lists the daemon's plugins, optionally filtered. */
  async plugins(options: PluginsOptions = {}): Promise<PluginInfo[]> {
    const { plugins } = await this.services.introspection.plugins({ filters: options.filters ?? [] }, options)
    return plugins.map((p) => {
      const info: PluginInfo = {
        type: p.type,
        id: p.id,
        requires: [...p.requires],
        platforms: p.platforms.map(toPlatform),
        exports: { ...p.exports },
        capabilities: [...p.capabilities],
      }
      if (p.initErr !== undefined && p.initErr.code !== 0) info.initError = { code: p.initErr.code, message: p.initErr.message }
      return info
    })
  }

  /** True when the daemon loaded the plugin `type`/`id` without an init error. */
  async hasPlugin(type: string, id: string, options?: CallOptions): Promise<boolean> {
    const found = await this.plugins({ ...options, filters: [`type==${type},id==${id}`] })
    return found.some((p) => p.initError === undefined)
  }

  /** The daemon's UUID, pid and deprecation warnings. */
  async server(options?: CallOptions): Promise<ServerInfo> {
    const res = await this.services.introspection.server({}, options)
    return {
      uuid: res.uuid,
      pid: Number(res.pid),
      pidns: Number(res.pidns),
      deprecations: res.deprecations.map((d) => ({ id: d.id, message: d.message, lastOccurrence: toDate(d.lastOccurrence) })),
    }
  }
}

/** Converts the wire Platform into ours, leaving out empty optional fields. */
export function toPlatform(p: PlatformMessage): Platform {
  const out: Platform = { os: p.os, architecture: p.architecture }
  if (p.variant !== '') out.variant = p.variant
  if (p.osVersion !== '') out.osVersion = p.osVersion
  return out
}
