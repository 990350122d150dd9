import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type IntegrationEvent } from '@optex/ports';
import { SERVICE_GROUPS, busPattern } from '@optex/engine';
import { ApprovalService } from './approval.service';

@Controller()
export class ApprovalController {
  constructor(private readonly service: ApprovalService) {}

  @EventPattern<string>(busPattern(SERVICE_GROUPS.approval, TOPICS.internalEvents))
  onEvent(@Payload() event: IntegrationEvent): Promise<void> {
    return this.service.onEvent(event);
  }
}
