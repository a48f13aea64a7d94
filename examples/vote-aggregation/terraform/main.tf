# Vote aggregation: the Votes table, its summary table and ledger, the Lambda function with its
# event source mapping and the framework's failure queue. The ECS worker needs the same tables
# and a lease table (created by the worker on first start, or below as `shardline_leases`).

resource "aws_dynamodb_table" "votes" {
  name         = "Votes"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "UserID"

  attribute {
    name = "UserID"
    type = "S"
  }

  # Both images: a changed vote takes one from the old choice and gives one to the new.
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"
}

resource "aws_dynamodb_table" "vote_summary" {
  name         = "VoteSummary"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "vote"

  attribute {
    name = "vote"
    type = "S"
  }
}

# The summary's ledger: per voter, the vote currently counted and the version of the change
# that set it. Every summary update is one transaction with its ledger entry, so totals are
# exactly once under redelivery, concurrency and reordering. TTL expires delete tombstones.
resource "aws_dynamodb_table" "vote_summary_ledger" {
  name         = "VoteSummary-ledger"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }
}

# Lease and checkpoint table of the ECS worker (KCL layout: partition key leaseKey).
resource "aws_dynamodb_table" "shardline_leases" {
  name         = "vote-aggregation"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "leaseKey"

  attribute {
    name = "leaseKey"
    type = "S"
  }
}

variable "lambda_package" {
  type        = string
  description = "Path of the function's zip: src/lambda.ts of @shardline/example-vote-aggregation bundled (e.g. esbuild --bundle --platform=node --format=esm), handler lambda.handler."
}

resource "aws_cloudwatch_log_group" "votes" {
  name              = "/aws/lambda/vote-aggregation"
  retention_in_days = 30
}

# The framework's failure destination: the handler parks a record it cannot apply here, whole
# (the raw stream record, the error, the attempts), and moves on; `shardline replay` reads it
# back through the same pipeline. Lambda's own on-failure destination is not used: for SQS it
# carries only the batch's shard and sequence range, which nothing can replay once the stream
# has trimmed the records.
resource "aws_sqs_queue" "vote_failures" {
  name                      = "vote-aggregation-failures"
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

resource "aws_iam_role" "votes" {
  name               = "vote-aggregation-lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "votes" {
  # The event source mapping reads the stream with the function's role.
  statement {
    sid       = "ReadStream"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    resources = [aws_dynamodb_table.votes.stream_arn]
  }
  statement {
    sid       = "ListStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["*"] # ListStreams has no resource-level permission
  }
  # The sink: each change is one transaction of an Update of the summary and a Put of the
  # voter's ledger entry; the ledger is read to find the vote currently counted.
  statement {
    sid     = "WriteSummary"
    actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [
      aws_dynamodb_table.vote_summary.arn,
      aws_dynamodb_table.vote_summary_ledger.arn,
    ]
  }

  # Park records in the framework's failure destination (SendMessageBatch is authorized as
  # SendMessage).
  statement {
    sid       = "ParkFailedRecords"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.vote_failures.arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.votes.arn}:*"]
  }
}

resource "aws_iam_role_policy" "votes" {
  name   = "vote-aggregation-lambda"
  role   = aws_iam_role.votes.id
  policy = data.aws_iam_policy_document.votes.json
}

resource "aws_lambda_function" "votes" {
  function_name    = "vote-aggregation"
  role             = aws_iam_role.votes.arn
  runtime          = "nodejs20.x"
  handler          = "lambda.handler"
  filename         = var.lambda_package
  source_code_hash = filebase64sha256(var.lambda_package)
  memory_size      = 512
  # At least 3x a batch's worst time; the handler answers before it with what is done.
  timeout = 60

  environment {
    variables = {
      VOTES_TABLE   = aws_dynamodb_table.votes.name
      SUMMARY_TABLE = aws_dynamodb_table.vote_summary.name
      # Where the handler parks what it cannot apply (see the queue above).
      FAILURE_QUEUE_URL = aws_sqs_queue.vote_failures.url
    }
  }

  depends_on = [aws_cloudwatch_log_group.votes]
}

# The mapping never gives up on a record behind the framework's back: the handler retries,
# parks what it cannot apply in the failure queue, and answers { batchItemFailures } naming the
# first record that is not done. Lambda retries only what the handler reported or a crashed
# invocation, from exactly there, as often as it takes (-1), at any age (-1): nothing is
# skipped, and a function that keeps failing shows as IteratorAge (alarm below) instead of
# silently dropping batches. No destination_config on_failure: with -1 and -1 Lambda never
# discards a batch, so it would never receive anything.
resource "aws_lambda_event_source_mapping" "votes" {
  event_source_arn  = aws_dynamodb_table.votes.stream_arn
  function_name     = aws_lambda_function.votes.arn
  starting_position = "TRIM_HORIZON"
  batch_size        = 100

  function_response_types            = ["ReportBatchItemFailures"]
  maximum_batching_window_in_seconds = 1
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = -1
  maximum_record_age_in_seconds      = -1
  # Exact at any factor (the ledger); raise it for throughput, up to 10 batches per shard.
  parallelization_factor = 1

  # The role must be able to read the stream before Lambda validates the mapping.
  depends_on = [aws_iam_role_policy.votes]
}

# With unbounded retries a record the function cannot get past holds its shard: say so long
# before DynamoDB Streams trim it (24 h).
resource "aws_cloudwatch_metric_alarm" "votes_iterator_age" {
  alarm_name          = "vote-aggregation-iterator-age"
  alarm_description   = "The vote-aggregation function is more than an hour behind its stream."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.votes.function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = 3600000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
}

output "failure_queue_url" {
  description = "FAILURE_QUEUE_URL, and the queue to give `shardline replay --from`."
  value       = aws_sqs_queue.vote_failures.url
}
