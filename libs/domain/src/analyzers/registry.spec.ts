import { analyzerFixture } from './analyzers.spec-helpers';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { ANALYZER_FORMATS, ANALYZERS, analyzerFormatOfCloudEventType, analyzerJsonSchemas, detectAnalyzerFormat, translateAnalyzerDocument } from './registry';
import { parseCsv } from './csv';

describe('analyzer registry', () => {
  it.each([
    ['coh-list-recommendations.json', 'coh'],
    ['coh-get-recommendation-ec2-stop.json', 'coh'],
    ['co-get-idle-recommendations.json', 'compute-optimizer'],
    ['co-export-ebs-volume.csv', 'compute-optimizer'],
    ['ta-unassociated-eip.json', 'trusted-advisor'],
    ['c7n-eip-unassociated.resources.json', 'custodian'],
  ])('tells the format of %s (%s)', (file, format) => {
    expect(detectAnalyzerFormat(analyzerFixture(file))).toBe(format);
  });

  it('names the format a document looks like when it is given as another', () => {
    expect(() => translateAnalyzerDocument('coh', { document: analyzerFixture('c7n-ec2-idle-stop.resources.json') })).toThrow(
      'not an AWS Cost Optimization Hub document: it looks like Cloud Custodian (--from custodian)',
    );
    expect(() => translateAnalyzerDocument('custodian', { document: [{ recommendationId: 'r', resource: {}, action: {} }] })).toThrow(/looks like optex recommendations already/);
  });

  it('has one CloudEvents type per format, and finds the format by it', () => {
    const types = ANALYZER_FORMATS.map((f) => ANALYZERS[f].cloudEventType);
    expect(new Set(types).size).toBe(types.length);
    for (const f of ANALYZER_FORMATS) expect(analyzerFormatOfCloudEventType(ANALYZERS[f].cloudEventType)).toBe(f);
    expect(analyzerFormatOfCloudEventType('com.example.other')).toBeUndefined();
  });
});

describe('parseCsv', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, CRLF and a BOM', () => {
    expect(parseCsv('\uFEFFa,b\r\n"x, y","say ""hi""\nthere"\r\n\r\n3,\n').rows).toEqual([
      { a: 'x, y', b: 'say "hi"\nthere' },
      { a: '3', b: '' },
    ]);
  });

  it('refuses an unclosed quote and a row longer than the header, naming the line', () => {
    expect(() => parseCsv('a\n"open\n')).toThrow('line 2: a quoted field is not closed');
    expect(() => parseCsv('a\n1,2\n')).toThrow('line 2: 2 fields, the header has 1');
  });
});

describe('analyzerJsonSchemas', () => {
  const schemas = analyzerJsonSchemas();
  const ajv = new Ajv2020({ allErrors: true, strict: false });

  it.each(Object.keys(schemas))('%s matches the committed docs/analyzers file (regenerate with npm run schema)', (name) => {
    const committed = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'docs', 'analyzers', `${name}.schema.json`), 'utf8'));
    expect(committed).toEqual(schemas[name]);
  });

  it.each([
    ['coh-document', 'coh-list-recommendations.json'],
    ['coh-recommendation', 'coh-get-recommendation-ebs-upgrade.json'],
    ['compute-optimizer-document', 'co-get-ebs-volume-recommendations.json'],
    ['trusted-advisor-document', 'ta-low-utilization-ec2.json'],
    ['custodian-resources', 'c7n-ebs-unattached.resources.json'],
    ['custodian-metadata', 'c7n-ebs-gp2-to-gp3.metadata.json'],
  ])('%s accepts the fixture %s, and refuses a wrongly typed field', (name, file) => {
    const validate = ajv.compile(schemas[name]!);
    expect(validate(analyzerFixture(file))).toBe(true);
    expect(validate(name === 'custodian-resources' ? { not: 'an array' } : { actionType: 7, instanceRecommendations: 1, volumeRecommendations: 1, result: 1, policy: 1, checkId: 1 })).toBe(false);
  });
});
