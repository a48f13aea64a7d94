# A Shardline Lambda consumer of a DynamoDB stream, with the event source mapping set the way
# the framework needs it. The handler (createDynamoDBHandler with an SqsFailureDestination on
# FAILURE_QUEUE_URL) retries within the invocation, parks a record it cannot apply in the
# failure queue, whole, and answers { batchItemFailures } naming the first record that is not
# done. So the mapping must never give up on a record by itself:
#
# - maximum_retry_attempts = -1 and maximum_record_age_in_seconds = -1: Lambda retries what the
#   handler reported (or a crashed invocation) from exactly there, for as long as it takes. A
#   finite value would make Lambda skip the batch, with only its shard and sequence range sent
#   to an on-failure queue: nothing `shardline replay` can use once the stream trimmed them.
# - No destination_config on_failure: with -1 and -1 Lambda never discards a batch.
# - ReportBatchItemFailures: without it Lambda ignores the answer and retries whole batches.
# - bisect_batch_on_function_error: the handler only errors on a crash, an out-of-memory or a
#   misconfiguration; splitting isolates the record behind it.
#
# A function that keeps failing holds its shard; the IteratorAge alarm says so long before the
# stream's 24 h retention.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 7.0"
    }
  }
}

locals {
  # Set by the module, after the caller's variables: where the handler parks records.
  framework_environment = {
    FAILURE_QUEUE_URL = aws_sqs_queue.failures.url
  }
}

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

# The framework's failure destination: parked records, whole (raw stream record, error,
# attempts), for `shardline replay --from sqs:<queue url>`.
resource "aws_sqs_queue" "failures" {
  name                      = "${var.name}-failures"
  message_retention_seconds = 1209600 # 14 days, SQS's most
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = "${var.name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "function" {
  # The event source mapping reads the stream with the function's role.
  statement {
    sid       = "ReadStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    resources = [var.stream_arn]
  }
  statement {
    sid       = "ListStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["*"] # ListStreams has no resource-level permission
  }
  # Park records (SendMessageBatch is authorized as SendMessage).
  statement {
    sid       = "ParkFailedRecords"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failures.arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "${var.name}-framework"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_iam_role_policy" "sink" {
  count  = var.sink_policy_json == null ? 0 : 1
  name   = "${var.name}-sink"
  role   = aws_iam_role.function.id
  policy = var.sink_policy_json
}

resource "aws_lambda_function" "function" {
  function_name    = var.name
  role             = aws_iam_role.function.arn
  runtime          = "nodejs20.x"
  handler          = var.handler
  filename         = var.lambda_package
  source_code_hash = filebase64sha256(var.lambda_package)
  memory_size      = var.memory_size
  timeout          = var.timeout

  environment {
    variables = merge(var.environment, local.framework_environment)
  }

  depends_on = [aws_cloudwatch_log_group.function]
}

resource "aws_lambda_event_source_mapping" "stream" {
  event_source_arn  = var.stream_arn
  function_name     = aws_lambda_function.function.arn
  starting_position = var.starting_position
  batch_size        = var.batch_size

  function_response_types            = ["ReportBatchItemFailures"]
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = var.parallelization_factor
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = -1
  maximum_record_age_in_seconds      = -1

  # Lambda checks the role can read the stream when it creates the mapping.
  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy.sink]
}

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  alarm_name          = "${var.name}-iterator-age"
  alarm_description   = "${var.name} is more than ${var.iterator_age_alarm_ms} ms behind its stream."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.function.function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.iterator_age_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
}
