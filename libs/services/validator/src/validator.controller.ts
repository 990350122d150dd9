import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type IntegrationEvent } from '@optex/ports';
import { SERVICE_GROUPS, busPattern } from '@optex/engine';
import { ValidatorService } from './validator.service';

@Controller()
export class ValidatorController {
  constructor(private readonly service: ValidatorService) {}

  @EventPattern<string>(busPattern(SERVICE_GROUPS.validator, TOPICS.internalEvents))
  onEvent(@Payload() event: IntegrationEvent): Promise<void> {
    return this.service.onEvent(event);
  }
}
