// The `containerd-sdk/network` entry point: the pluggable part of container networking. A platform with
// its own networking implements `NetworkProvider` and passes it as `Client.connect({ network: { provider } })`;
// `CniNetworkProvider` is the default (CNI plugins on nerdctl's network config store), to wrap or
// configure. Named exports only; its errors (`CniError`) come from `containerd-sdk`.
export type { NetworkProvider, NetworkContext, NetworkAttachment, NetworkSettings, PortMapping } from '../client/network-provider.js'
export { CniNetworkProvider, type CniNetworkProviderOptions } from './cni-network-provider.js'
