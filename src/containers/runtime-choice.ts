import { create, toBinary } from '@bufbuild/protobuf'
import { InvalidArgumentError } from '../grpc/errors.js'
import { OptionsSchema } from '../gen/containerd/types/runc/options/oci_pb.js'

/** The runtime containerd's Go client uses by default. */
export const DEFAULT_RUNTIME = 'io.containerd.runc.v2'

/** A container record's runtime: the shim's name and its options as an Any. */
export interface RuntimeChoice {
  /** The runtime (shim) name, e.g. `io.containerd.runc.v2`. */
  name: string
  /** The shim's options, packed as an Any (`containerd.runc.v1.Options` for the runc shim). */
  options?: {
    /** The options message's type name. */
    typeUrl: string
    /** The encoded options message. */
    value: Uint8Array
  }
}

/**
 * Turns a `runtime` option into the record's runtime, the way nerdctl reads `--runtime`: a containerd
 * runtime name (`io.containerd.runc.v2`, `io.containerd.runsc.v1`…) is used as it is; anything else
 * (`crun`, `/usr/bin/crun`, `runc`) is an OCI runtime binary run by the runc shim, passed in the shim's
 * `containerd.runc.v1.Options.binary_name`.
 */
export function runtimeChoice(runtime: string | undefined): RuntimeChoice {
  if (runtime === undefined || runtime === DEFAULT_RUNTIME) return { name: DEFAULT_RUNTIME }
  if (typeof runtime !== 'string' || runtime.trim() === '' || /\s/.test(runtime)) {
    throw new InvalidArgumentError(`runtime ${JSON.stringify(runtime)}: want a containerd runtime name (io.containerd.runc.v2) or an OCI runtime binary (crun)`)
  }
  if (runtime.startsWith('io.containerd.')) return { name: runtime }
  const options = create(OptionsSchema, { binaryName: runtime })
  return { name: DEFAULT_RUNTIME, options: { typeUrl: OptionsSchema.typeName, value: toBinary(OptionsSchema, options) } }
}
