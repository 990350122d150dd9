import { createHash } from 'node:crypto';
import { BadRequestException, Controller, HttpStatus, Inject, Post, Query, Req, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { intakeRecord, withoutByteOrderMark, normalizeIdentity, rosterEntryFor, optimizationIdFor, previewIdFor, type FieldError, type Principal } from '@optex/domain';
import { InputFormatError, RecordSplitter, recommendationMessages } from '@optex/runtime';
import { API_DEPS, type ApiDeps } from './api.constants';
import { Responds } from './openapi-schemas';
import { Requires } from './auth/access.guard';

export const RECOMMENDATIONS_PATH = '/api/v1/recommendations';

interface Verdicts {
  readonly accepted: { index: number; recommendationId: string; optimizationId: string }[];
  readonly rejected: { index: number; recommendationId?: string; errors: readonly FieldError[] }[];
}

@ApiTags('recommendations')
@Controller()
export class RecommendationsController {
  constructor(@Inject(API_DEPS) private readonly deps: ApiDeps) {}

  @Post(RECOMMENDATIONS_PATH)
  @Requires('submitter')
  @ApiOperation({
    summary: 'Submit recommendations (a JSON array or NDJSON, or one JSON object)',
    description:
      'Each record goes through the same intake as Kafka (limits, UTF-8, duplicate keys, the schema). All accepted → 202, some → 207, none → 400; ' +
      'every rejected record lists every failing field. Accepted records are published to optex.recommendations.v1, where the risk-assessor records them.',
  })
  @ApiConsumes('application/json', 'application/x-ndjson')
  @ApiBody({ schema: { oneOf: [{ type: 'array', items: { $ref: '#/components/schemas/Recommendation' } }, { $ref: '#/components/schemas/Recommendation' }] } })
  @ApiQuery({ name: 'dryRun', required: false, enum: ['true', 'false'], description: 'true: a preview (EC2 DryRun), changes nothing; anything but true or false is a 400' })
  @Responds(202, 'Submission', 'Every record accepted and published: `rejected` is empty.')
  @Responds(207, 'Submission', 'Some accepted and published, some rejected (each with every failing field).')
  @ApiResponse({
    status: 400,
    description: 'No record accepted (`SubmissionRefused`, each rejected record with every failing field), or the body is neither JSON nor NDJSON, holds no record, or `dryRun` is neither true nor false (`Error`).',
    content: { 'application/json': { schema: { oneOf: [{ $ref: '#/components/schemas/SubmissionRefused' }, { $ref: '#/components/schemas/Error' }] } } },
  })
  @ApiResponse({
    status: 503,
    description:
      'This API process has no bus to publish to (start it with --bus kafka://…): nothing was published (`SubmissionRefused`). Or the bus is unreachable, an outage (`Error`): whether the accepted records were published is then unknown.',
    content: { 'application/json': { schema: { oneOf: [{ $ref: '#/components/schemas/SubmissionRefused' }, { $ref: '#/components/schemas/Error' }] } } },
  })
  async submit(@Req() request: { body?: unknown; principal?: Principal }, @Res({ passthrough: true }) response: { status(code: number): void }, @Query('dryRun') dryRunParam?: unknown) {
    const dryRun = dryRunOf(dryRunParam);
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const splitter = new RecordSplitter(this.deps.intakeLimits);
    let records;
    try {
      splitter.push(isSingleObject(body) ? Buffer.concat([Buffer.from('['), withoutBom(body), Buffer.from(']')]) : body);
      records = splitter.end().records;
    } catch (error) {
      if (error instanceof InputFormatError) throw new BadRequestException({ statusCode: 400, error: 'Bad Request', reason: error.message });
      throw error;
    }
    if (records.length === 0) throw new BadRequestException({ statusCode: 400, error: 'Bad Request', reason: 'no record in the body: send a JSON array, NDJSON or one JSON object' });
    const verdicts: Verdicts = { accepted: [], rejected: [] };
    records.forEach((record, index) => {
      const outcome = intakeRecord(record.bytes, this.deps.intakeLimits, record.size);
      if (!outcome.ok) {
        verdicts.rejected.push({ index, ...(outcome.recommendationId ? { recommendationId: outcome.recommendationId } : {}), errors: outcome.errors });
        return;
      }
      const { recommendationId, source, requestedBy } = outcome.recommendation;
      const identity = request.principal?.identity ?? '';
      // The caller may name only itself as the requester (whoever is named can never approve it), as a decision is
      // recorded only under the authenticated principal: by its roster id, an alias of it, or its subject.
      const roster = this.deps.policy.approval.roster ?? [];
      if (requestedBy !== undefined && normalizeIdentity(rosterEntryFor(roster, requestedBy)?.id ?? requestedBy) !== normalizeIdentity(identity)) {
        verdicts.rejected.push({ index, recommendationId, errors: [{ path: 'requestedBy', message: `must be the authenticated principal (${identity}) or left out` }] });
        return;
      }
      verdicts.accepted.push({ index, recommendationId, optimizationId: dryRun ? previewIdFor(source, recommendationId) : optimizationIdFor(source, recommendationId) });
    });
    if (verdicts.accepted.length > 0) {
      if (!this.deps.bus) throw new ServiceUnavailableException({ statusCode: 503, error: 'Service Unavailable', reason: 'this API has no bus to publish recommendations to: start it with --bus kafka://HOST:PORT', ...verdicts });
      const submittedBy = request.principal ? { channel: 'api' as const, method: request.principal.method, subject: request.principal.subject } : undefined;
      const input = { records, deliveryPrefix: `api:${createHash('sha256').update(body).digest('hex').slice(0, 16)}`, name: 'api', ...(submittedBy ? { submittedBy } : {}) };
      const accepted = new Set(verdicts.accepted.map((a) => a.index));
      await this.deps.bus.publish(recommendationMessages(input, dryRun, this.deps.intakeLimits).filter((_, i) => accepted.has(i)));
    }
    const status = verdicts.rejected.length === 0 ? HttpStatus.ACCEPTED : verdicts.accepted.length === 0 ? HttpStatus.BAD_REQUEST : HttpStatus.MULTI_STATUS;
    response.status(status);
    return { ...(status === HttpStatus.BAD_REQUEST ? { statusCode: 400, error: 'Bad Request', reason: 'no record was accepted' } : {}), ...verdicts };
  }
}

/**
 * The `dryRun` query parameter: absent or `false` → a real change, `true` → a preview; anything else (`TRUE`, `1`,
 * given twice) is a 400 naming it, never a real change in place of the preview meant.
 */
function dryRunOf(value: unknown): boolean {
  if (value === undefined || value === 'false') return false;
  if (value === 'true') return true;
  throw new BadRequestException({ statusCode: 400, error: 'Bad Request', reason: `dryRun: expected true or false, got ${JSON.stringify(value)}` });
}

/** Whether the body is one JSON object (first non-space byte `{` and no second line starting with `{`): wrapped as an array of one. */
function isSingleObject(body: Buffer): boolean {
  const text = withoutByteOrderMark(body.toString('utf8')).trim();
  return text.startsWith('{') && !/\}\s*\n\s*\{/.test(text);
}

const withoutBom = (body: Buffer): Buffer => (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? body.subarray(3) : body);
