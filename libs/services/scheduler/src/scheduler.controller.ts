import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type IntegrationEvent } from '@optex/ports';
import { SERVICE_GROUPS, busPattern } from '@optex/engine';
import { SchedulerService } from './scheduler.service';

@Controller()
export class SchedulerController {
  constructor(private readonly service: SchedulerService) {}

  @EventPattern<string>(busPattern(SERVICE_GROUPS.scheduler, TOPICS.internalEvents))
  onEvent(@Payload() event: IntegrationEvent): Promise<void> {
    return this.service.onEvent(event);
  }
}
