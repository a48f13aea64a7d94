/**
 * `@shardline/lambda/emf`: the handler's metrics as CloudWatch Embedded Metric Format, through
 * Powertools for AWS Lambda (`@aws-lambda-powertools/metrics`, an optional peer dependency).
 */
export { EmfMetrics, type EmfMetricsOptions } from './EmfMetrics.js';
