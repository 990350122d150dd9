export * from './contracts';
export { startEsdbEmulator, type EsdbEmulator, type EsdbEmulatorOptions } from './esdb-emulator';
export { startKafka, restartKafka, ensureKafkaJars, kafkaToolingProblem, isProcessAlive, repoRoot, freePorts, type StartKafkaOptions, type RunningKafka, type KafkaJars } from './infra/kafka';
export { startMoto, shouldRunMotoTests, motoServerPath, type MotoServer, type StartMotoOptions } from './infra/moto';
export { startCountingProxy, type CountingProxy, type CountedRequest } from './infra/counting-proxy';
export { MotoRulesGateway, type MotoRulesGatewayOptions } from './ec2/moto-rules-gateway';
export { OPTEX_POLICY_FILE, iamPolicyProblems, readOptexPolicy, recordSdkCommands, sdkActionsInSource, sdkActionsOfCode, sentButNotCovered, type IamPolicy, type SdkAction } from './deploy/iam-policy';
export { gp3Recommendation } from './fixtures/recommendations';
export { seededRandom } from './random/seeded-random';
