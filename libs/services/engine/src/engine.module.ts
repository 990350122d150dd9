import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { PriceBook, Policy } from '@optex/domain';
import type { Clock, CloudIdentity, EventStore, Ec2Gateway, Logger, MetricsSource, Bus } from '@optex/ports';
import { BUS, CLOCK, CLOUD_IDENTITY, EC2_GATEWAY, ENGINE_OPTIONS, EVENT_STORE, LOGGER, METRICS_SOURCE, OPTEX_METRICS, POLICY, PRICE_BOOK, READ_MODEL } from './engine.constants';
import { SharedReadModel } from './shared-read-model';
import { defaultEngineOptions, type EngineOptions } from './engine-options';
import { OptexMetrics } from './metrics';

/** The adapters an app chose, handed to every service module. */
export interface EngineAdapters {
  readonly store: EventStore;
  readonly bus: Bus;
  readonly ec2: Ec2Gateway;
  readonly metricsSource: MetricsSource;
  /** Whose credentials `ec2` and `metricsSource` act with (the scope guard's credentials check). */
  readonly identity: CloudIdentity;
  readonly priceBook: PriceBook;
  readonly policy: Policy;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: OptexMetrics;
  readonly options?: Partial<EngineOptions>;
}

/** Global module exposing the chosen adapters under the engine's tokens, and the read model the process's services share. Only apps call `forRoot`. */
@Global()
@Module({})
export class EngineModule {
  static forRoot(adapters: EngineAdapters): DynamicModule {
    const options: EngineOptions = { ...defaultEngineOptions, ...adapters.options };
    const providers = [
      { provide: EVENT_STORE, useValue: adapters.store },
      { provide: BUS, useValue: adapters.bus },
      { provide: EC2_GATEWAY, useValue: adapters.ec2 },
      { provide: METRICS_SOURCE, useValue: adapters.metricsSource },
      { provide: CLOUD_IDENTITY, useValue: adapters.identity },
      { provide: PRICE_BOOK, useValue: adapters.priceBook },
      { provide: POLICY, useValue: adapters.policy },
      { provide: CLOCK, useValue: adapters.clock },
      { provide: LOGGER, useValue: adapters.logger },
      { provide: OPTEX_METRICS, useValue: adapters.metrics },
      { provide: ENGINE_OPTIONS, useValue: options },
      { provide: READ_MODEL, useValue: new SharedReadModel(adapters.store, { unpackedSettled: options.unpackedSettled }) },
    ];
    return { module: EngineModule, providers, exports: providers.map((p) => p.provide) };
  }
}
