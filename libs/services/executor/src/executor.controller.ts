import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type IntegrationEvent } from '@optex/ports';
import { SERVICE_GROUPS, busPattern } from '@optex/engine';
import { ExecutorService } from './executor.service';

@Controller()
export class ExecutorController {
  constructor(private readonly service: ExecutorService) {}

  @EventPattern<string>(busPattern(SERVICE_GROUPS.executor, TOPICS.executions))
  onEvent(@Payload() event: IntegrationEvent): Promise<void> {
    return this.service.onEvent(event);
  }
}
