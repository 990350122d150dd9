import { Module } from '@nestjs/common';
import { RiskAssessorController } from './risk-assessor.controller';
import { RiskAssessorService } from './risk-assessor.service';

@Module({ controllers: [RiskAssessorController], providers: [RiskAssessorService], exports: [RiskAssessorService] })
export class RiskAssessorModule {}
