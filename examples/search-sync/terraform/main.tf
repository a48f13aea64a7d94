# Search sync: the Users table (stream on), the Lambda event source mapping, and the worker's
# lease table. The OpenSearch domain is yours; give its endpoint as OPENSEARCH_URL.

variable "lambda_function_name" {
  type        = string
  description = "The function built from @shardline/example-search-sync/lambda."
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

resource "aws_sqs_queue" "search_sync_failures" {
  name                      = "search-sync-failures"
  message_retention_seconds = 1209600
}

resource "aws_lambda_event_source_mapping" "users" {
  event_source_arn  = aws_dynamodb_table.users.stream_arn
  function_name     = var.lambda_function_name
  starting_position = "TRIM_HORIZON"
  batch_size        = 500

  # The handler answers { batchItemFailures }: Lambda retries from the first failed record.
  function_response_types = ["ReportBatchItemFailures"]

  maximum_batching_window_in_seconds = 1
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = 10

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.search_sync_failures.arn
    }
  }
}
