export { eventStoreContract, type EventStoreContractOptions } from './event-store.contract';
export { busContract, type BusContractOptions } from './bus.contract';
export { ec2GatewayContract, type Ec2GatewayContractOptions, type Ec2ContractSubject, type Ec2ContractArrange, type Ec2ContractCapabilities, type Capability } from './ec2-gateway.contract';
export { metricsSourceContract, type MetricsContractSubject } from './metrics-source.contract';
