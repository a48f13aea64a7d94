# Vote aggregation: the Votes table, its summary table, and the Lambda event source mapping.
# The ECS worker needs the two tables and a lease table (created by the worker on first start,
# or below as `shardline_leases`).

variable "lambda_function_name" {
  type        = string
  description = "The function built from @shardline/example-vote-aggregation/lambda."
}

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

resource "aws_sqs_queue" "vote_failures" {
  name                      = "vote-aggregation-failures"
  message_retention_seconds = 1209600
}

resource "aws_lambda_event_source_mapping" "votes" {
  event_source_arn  = aws_dynamodb_table.votes.stream_arn
  function_name     = var.lambda_function_name
  starting_position = "TRIM_HORIZON"
  batch_size        = 100

  # The handler returns { batchItemFailures }: Lambda retries from the first failed record
  # instead of the whole batch, and the checkpoint never passes a record that is not done.
  function_response_types = ["ReportBatchItemFailures"]

  maximum_batching_window_in_seconds = 1
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = 10
  maximum_record_age_in_seconds      = 86400

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.vote_failures.arn
    }
  }
}
