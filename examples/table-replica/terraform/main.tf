# Table replica: the Users table (source, stream with the new image), its copy for batch jobs,
# a derived table of active users by country, the two state tables (TTL on expiresAt), and the
# Lambda function with its event source mapping and the framework's failure queue. The ECS worker
# needs the same tables and a lease table (created by the worker on first start, or below as
# `shardline_leases`); it also keeps the bootstrap's progress.

resource "aws_dynamodb_table" "users" {
  name         = "Users"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "userId"

  attribute {
    name = "userId"
    type = "S"
  }

  # The copy is built from the new image (NEW_AND_OLD_IMAGES works too; KEYS_ONLY does not).
  stream_enabled   = true
  stream_view_type = "NEW_IMAGE"
}

# The copy: same key, every attribute (or REPLICA_ATTRIBUTES). Batch jobs scan this one.
resource "aws_dynamodb_table" "users_replica" {
  name         = "Users-replica"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "userId"

  attribute {
    name = "userId"
    type = "S"
  }
}

# The copy's tombstones: a deleted user's version, so an older change replayed later cannot
# bring the user back. TTL removes them after the sink's tombstone TTL.
resource "aws_dynamodb_table" "users_replica_state" {
  name         = "Users-replica-state"
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

# Derived: active users by country, re-keyed (country, userId).
resource "aws_dynamodb_table" "active_users_by_country" {
  name         = "ActiveUsersByCountry"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "country"
  range_key    = "userId"

  attribute {
    name = "country"
    type = "S"
  }

  attribute {
    name = "userId"
    type = "S"
  }
}

# The derived table's state entries: per user, the version applied and the items it produced
# (so a move to another country deletes the old item); tombstones expire by TTL.
resource "aws_dynamodb_table" "active_users_by_country_state" {
  name         = "ActiveUsersByCountry-state"
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

# Lease and checkpoint table of the ECS worker (KCL layout: partition key leaseKey); the
# bootstrap keeps its segment progress here too.
resource "aws_dynamodb_table" "shardline_leases" {
  name         = "table-replica"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "leaseKey"

  attribute {
    name = "leaseKey"
    type = "S"
  }
}

variable "lambda_package" {
  type        = string
  description = "Path of the function's zip: src/lambda.ts of @shardline/example-table-replica bundled, e.g. esbuild src/lambda.ts --bundle --platform=node --format=esm --outfile=lambda.mjs, zipped; handler lambda.handler."
}

# The sinks, least privilege: conditional PutItem / DeleteItem and TransactWriteItems (whose
# Put, Delete and ConditionCheck actions are authorized as PutItem, DeleteItem and
# ConditionCheckItem) on the targets and state tables, GetItem for the derived path's state
# read. No Scan, no UpdateItem, nothing on the source table but its stream (in the module).
data "aws_iam_policy_document" "replica_sinks" {
  statement {
    sid = "WriteProjections"
    actions = [
      "dynamodb:ConditionCheckItem",
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
    ]
    resources = [
      aws_dynamodb_table.users_replica.arn,
      aws_dynamodb_table.users_replica_state.arn,
      aws_dynamodb_table.active_users_by_country.arn,
      aws_dynamodb_table.active_users_by_country_state.arn,
    ]
  }
}

# The function, its failure queue (FAILURE_QUEUE_URL) and the event source mapping, set the way
# the framework needs it: Lambda never skips a batch; the handler parks what it cannot apply,
# whole, in the queue. See the module.
module "lambda" {
  source = "../../../terraform/modules/dynamodb-stream-lambda"

  name           = "table-replica"
  stream_arn     = aws_dynamodb_table.users.stream_arn
  lambda_package = var.lambda_package
  environment = {
    SOURCE_TABLE        = aws_dynamodb_table.users.name
    REPLICA_TABLE       = aws_dynamodb_table.users_replica.name
    REPLICA_STATE_TABLE = aws_dynamodb_table.users_replica_state.name
    DERIVED_TABLE       = aws_dynamodb_table.active_users_by_country.name
    DERIVED_STATE_TABLE = aws_dynamodb_table.active_users_by_country_state.name
  }
  sink_policy_json = data.aws_iam_policy_document.replica_sinks.json

  starting_position = "TRIM_HORIZON"
  batch_size        = 100
  # Versions make any factor safe (up to 10 batches per shard at once).
  parallelization_factor = 2
}

output "failure_queue_url" {
  description = "Where the handler parks records: `shardline replay --from sqs:<this url>`."
  value       = module.lambda.failure_queue_url
}
