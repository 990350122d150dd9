export { eventStoreContract, type EventStoreContractOptions } from './event-store.contract';
export { busContract, type BusContractOptions } from './bus.contract';
