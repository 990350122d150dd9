import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type HandlerOutcome, type IncomingRecommendation } from '@optex/ports';
import { SERVICE_GROUPS, busPattern } from '@optex/engine';
import { RiskAssessorService } from './risk-assessor.service';

@Controller()
export class RiskAssessorController {
  constructor(private readonly service: RiskAssessorService) {}

  @EventPattern<string>(busPattern(SERVICE_GROUPS.riskAssessor, TOPICS.recommendations))
  onRecommendation(@Payload() message: IncomingRecommendation): Promise<HandlerOutcome> {
    return this.service.ingest(message);
  }
}
