/** Sources shared by more than one region file (see SOURCES.md beside this file). */

/**
 * A generated copy of AWS's public Price List bulk files (on-demand offer files), dated 2026-10-06: Linux, shared tenancy,
 * no pre-installed software, capacity status Used, operation RunInstances; EBS volume storage per GB-month.
 */
export const COMMITCOST_SNAPSHOT =
  'John-Almos/CommitCost engine/src/cost/aws/snapshot.json, commit 61194272cb257d525471c035591a280e3e6dd9ea (search-index file 70277498903): ' +
  '"AWS Price List bulk API, public on-demand offer files" (https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws), generatedAt 2026-10-06, ' +
  'AmazonEC2 publication 2026-10-06, built by scripts/build-price-snapshot.ts; keyed by usagetype without the region prefix ' +
  '(BoxUsage:<type>, EBS:VolumeUsage.<gp2|gp3|io2|st1>); its 70 us-east-1 figures that the book also has (m5.large 0.096, gp2 0.1, gp3 0.08, …) all equal the book';
