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
  description = "Path of the function's zip: src/lambda.ts of @shardline/example-vote-aggregation bundled, e.g. esbuild src/lambda.ts --bundle --platform=node --format=esm --outfile=lambda.mjs, zipped; handler lambda.handler."
}

# The sink: each change is one transaction of an Update of the summary and a Put of the voter's
# ledger entry; the ledger is read to find the vote currently counted.
data "aws_iam_policy_document" "summary_sink" {
  statement {
    sid     = "WriteSummary"
    actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    resources = [
      aws_dynamodb_table.vote_summary.arn,
      aws_dynamodb_table.vote_summary_ledger.arn,
    ]
  }
}

# The function, its failure queue (FAILURE_QUEUE_URL) and the event source mapping, set the way
# the framework needs it: Lambda never skips a batch (retries and record age -1, no on-failure
# destination); the handler parks what it cannot apply, whole, in the queue. See the module.
module "lambda" {
  source = "../../../terraform/modules/dynamodb-stream-lambda"

  name           = "vote-aggregation"
  stream_arn     = aws_dynamodb_table.votes.stream_arn
  lambda_package = var.lambda_package
  environment = {
    VOTES_TABLE   = aws_dynamodb_table.votes.name
    SUMMARY_TABLE = aws_dynamodb_table.vote_summary.name
  }
  sink_policy_json = data.aws_iam_policy_document.summary_sink.json

  starting_position = "TRIM_HORIZON"
  batch_size        = 100
  # Exact at any factor (the ledger); raise it for throughput, up to 10 batches per shard.
  parallelization_factor = 1
}

output "failure_queue_url" {
  description = "Where the handler parks records: `shardline replay --from sqs:<this url>`."
  value       = module.lambda.failure_queue_url
}
