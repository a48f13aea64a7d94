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
  description = "Path of the function's zip: src/lambda.ts of @shardline/example-search-sync bundled, e.g. esbuild src/lambda.ts --bundle --platform=node --format=esm --outfile=lambda.mjs, zipped; handler lambda.handler."
}

# The function, its failure queue (FAILURE_QUEUE_URL) and the event source mapping, set the way
# the framework needs it: Lambda never skips a batch (retries and record age -1, no on-failure
# destination); the handler parks what it cannot apply, whole, in the queue. See the module.
module "lambda" {
  source = "../../../terraform/modules/dynamodb-stream-lambda"

  name           = "search-sync"
  stream_arn     = aws_dynamodb_table.users.stream_arn
  lambda_package = var.lambda_package
  environment = {
    SOURCE_TABLE     = aws_dynamodb_table.users.name
    OPENSEARCH_URL   = var.opensearch_url
    OPENSEARCH_INDEX = var.opensearch_index
  }

  starting_position = "TRIM_HORIZON"
  batch_size        = 500
  # Exact at any factor (external versions); raise it for throughput, up to 10 per shard.
  parallelization_factor = 1
}

output "failure_queue_url" {
  description = "Where the handler parks records: `shardline replay --from sqs:<this url>`."
  value       = module.lambda.failure_queue_url
}
