// Simulated fleet (embedded default and tests)
export * from './simulated';
// AWS SDK adapters (EC2 gateway, CloudWatch metrics)
export { AwsEc2Gateway, type AwsEc2GatewayOptions } from './aws/aws-ec2-gateway';
export { CloudWatchMetricsSource, type CloudWatchMetricsSourceOptions } from './aws/cloudwatch-metrics-source';
export { StsCloudIdentity, type StsCloudIdentityOptions } from './aws/sts-cloud-identity';
export { Resilience, resolveResilienceOptions, type RetryOptions, type BreakerOptions, type ResilienceOptions, type ResolvedResilienceOptions, type FailureModel, type ResilientCall, type CircuitOpened } from './aws/resilience';
export { describeAwsFailure, toEc2Error, type AwsFailure } from './aws/aws-errors';
export { Ec2ApiBudget, type Ec2ApiBudgetOptions, type BudgetStats } from './budget/ec2-api-budget';
export { BudgetedEc2Gateway } from './budget/budgeted-gateway';
export { TracedEc2Gateway } from './tracing/traced-gateway';
