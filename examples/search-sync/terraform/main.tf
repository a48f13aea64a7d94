# Search sync: the Users table (stream on), the Lambda function with its event source mapping
# and the framework's failure queue, and the worker's lease table. The OpenSearch domain is
# yours: give its endpoint, and let the function's role in through the domain's access policy
# (the sink's requests are not SigV4-signed; use fine-grained access control or a VPC domain).

variable "opensearch_url" {
  type        = string
  description = "OPENSEARCH_URL: the domain endpoint, e.g. https://search-users-abc.eu-west-1.es.amazonaws.com."
}

variable "opensearch_index" {
  type    = string
  default = "users"
}

resource "aws_dynamodb_table" "users" {
  name         = "Users"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "UserID"

  attribute {
    name = "UserID"
    type = "S"
  }

  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"
}

# Lease and checkpoint table of the ECS worker (KCL layout: partition key leaseKey).
resource "aws_dynamodb_table" "search_sync_leases" {
  name         = "search-sync"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "leaseKey"

  attribute {
    name = "leaseKey"
    type = "S"
  }
}

variable "lambda_package" {
  type        = string
  description = "Path of the function's zip: src/lambda.ts of @shardline/example-search-sync bundled (e.g. esbuild --bundle --platform=node --format=esm), handler lambda.handler."
}

resource "aws_cloudwatch_log_group" "search_sync" {
  name              = "/aws/lambda/search-sync"
  retention_in_days = 30
}

# The framework's failure destination: the handler parks a record it cannot apply here, whole
# (the raw stream record, the error, the attempts), and moves on; `shardline replay` reads it
# back through the same pipeline. Lambda's own on-failure destination is not used: for SQS it
# carries only the batch's shard and sequence range, which nothing can replay once the stream
# has trimmed the records.
resource "aws_sqs_queue" "search_sync_failures" {
  name                      = "search-sync-failures"
  message_retention_seconds = 1209600 # 14 days, SQS's most
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "search_sync" {
  name               = "search-sync-lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "search_sync" {
  # The event source mapping reads the stream with the function's role.
  statement {
    sid       = "ReadStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    resources = [aws_dynamodb_table.users.stream_arn]
  }
  statement {
    sid       = "ListStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["*"] # ListStreams has no resource-level permission
  }

  # Park records in the framework's failure destination (SendMessageBatch is authorized as
  # SendMessage).
  statement {
    sid       = "ParkFailedRecords"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.search_sync_failures.arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.search_sync.arn}:*"]
  }
}

resource "aws_iam_role_policy" "search_sync" {
  name   = "search-sync-lambda"
  role   = aws_iam_role.search_sync.id
  policy = data.aws_iam_policy_document.search_sync.json
}

resource "aws_lambda_function" "search_sync" {
  function_name    = "search-sync"
  role             = aws_iam_role.search_sync.arn
  runtime          = "nodejs20.x"
  handler          = "lambda.handler"
  filename         = var.lambda_package
  source_code_hash = filebase64sha256(var.lambda_package)
  memory_size      = 512
  # At least 3x a batch's worst time; the handler answers before it with what is done.
  timeout = 60

  environment {
    variables = {
      SOURCE_TABLE     = aws_dynamodb_table.users.name
      OPENSEARCH_URL   = var.opensearch_url
      OPENSEARCH_INDEX = var.opensearch_index
      # Where the handler parks what it cannot apply (see the queue above).
      FAILURE_QUEUE_URL = aws_sqs_queue.search_sync_failures.url
    }
  }

  depends_on = [aws_cloudwatch_log_group.search_sync]
}

# The mapping never gives up on a record behind the framework's back: the handler retries,
# parks what it cannot apply in the failure queue, and answers { batchItemFailures } naming the
# first record that is not done. Lambda retries only what the handler reported or a crashed
# invocation, from exactly there, as often as it takes (-1), at any age (-1): nothing is
# skipped, and a function that keeps failing shows as IteratorAge (alarm below) instead of
# silently dropping batches. No destination_config on_failure: with -1 and -1 Lambda never
# discards a batch, so it would never receive anything.
resource "aws_lambda_event_source_mapping" "users" {
  event_source_arn  = aws_dynamodb_table.users.stream_arn
  function_name     = aws_lambda_function.search_sync.arn
  starting_position = "TRIM_HORIZON"
  batch_size        = 500

  function_response_types            = ["ReportBatchItemFailures"]
  maximum_batching_window_in_seconds = 1
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = -1
  maximum_record_age_in_seconds      = -1
  # Exact at any factor (external versions); raise it for throughput, up to 10 per shard.
  parallelization_factor = 1

  # The role must be able to read the stream before Lambda validates the mapping.
  depends_on = [aws_iam_role_policy.search_sync]
}

# With unbounded retries a record the function cannot get past holds its shard: say so long
# before DynamoDB Streams trim it (24 h).
resource "aws_cloudwatch_metric_alarm" "search_sync_iterator_age" {
  alarm_name          = "search-sync-iterator-age"
  alarm_description   = "The search-sync function is more than an hour behind its stream."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.search_sync.function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 3600000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
}

output "failure_queue_url" {
  description = "FAILURE_QUEUE_URL, and the queue to give `shardline replay --from`."
  value       = aws_sqs_queue.search_sync_failures.url
}
