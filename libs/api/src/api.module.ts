import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { API_DEPS, type ApiDeps } from './api.constants';
import { AccessGuard } from './auth/access.guard';
import { ApiErrorFilter } from './http-errors';
import { ConsoleController } from './console/console.controller';
import { ExecutionController } from './execution.controller';
import { OptimizationsController } from './optimizations.controller';
import { RecommendationsController } from './recommendations.controller';
import { ReportsController } from './reports.controller';

/** The operator API: controllers over the domain's decisions and queries, every route behind {@link AccessGuard}, what they throw answered by {@link ApiErrorFilter}. */
@Module({})
export class ApiModule {
  static forRoot(deps: ApiDeps): DynamicModule {
    return {
      module: ApiModule,
      controllers: [OptimizationsController, ReportsController, RecommendationsController, ExecutionController, ConsoleController],
      providers: [
        { provide: API_DEPS, useValue: deps },
        { provide: APP_GUARD, useClass: AccessGuard },
        { provide: APP_FILTER, useClass: ApiErrorFilter },
      ],
    };
  }
}
