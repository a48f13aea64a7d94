# The AWS resources of the ECS consumer: the source table with its stream, the lease table,
# the audit (sink) table, and a task role with exactly the actions the worker needs.

variable "app" {
  type    = string
  default = "orders-consumer"
}

resource "aws_dynamodb_table" "orders" {
  name             = "orders"
  billing_mode     = "PAY_PER_REQUEST"
  hash_key         = "id"
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  attribute {
    name = "id"
    type = "S"
  }
}

# Created here so IAM can be scoped to it (the worker creates it on demand otherwise).
# The schema is the KCL's: hash key leaseKey, and KCL 3's owner index.
resource "aws_dynamodb_table" "leases" {
  name         = var.app
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "leaseKey"

  attribute {
    name = "leaseKey"
    type = "S"
  }
  attribute {
    name = "leaseOwner"
    type = "S"
  }

  global_secondary_index {
    name            = "LeaseOwnerToLeaseKeyIndex"
    hash_key        = "leaseOwner"
    range_key       = "leaseKey"
    projection_type = "KEYS_ONLY"
  }
}

resource "aws_dynamodb_table" "audit" {
  name         = "orders-audit"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "eventId"

  attribute {
    name = "eventId"
    type = "S"
  }
}

data "aws_iam_policy_document" "consumer" {
  # Find the table's current stream (once, at start).
  statement {
    sid       = "DescribeSourceTable"
    actions   = ["dynamodb:DescribeTable"]
    resources = [aws_dynamodb_table.orders.arn]
  }

  # Read the stream: shards, iterators, records.
  statement {
    sid = "ReadSourceStream"
    actions = [
      "dynamodb:DescribeStream",
      "dynamodb:GetShardIterator",
      "dynamodb:GetRecords",
    ]
    resources = ["${aws_dynamodb_table.orders.arn}/stream/*"]
  }

  # Leases, checkpoints and the coordination item. DescribeTable/CreateTable: the worker checks
  # the table at start (set createLeaseTable: false and drop CreateTable if you prefer).
  statement {
    sid = "LeaseTable"
    actions = [
      "dynamodb:DescribeTable",
      "dynamodb:CreateTable",
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:Scan",
      "dynamodb:Query",
    ]
    resources = [
      aws_dynamodb_table.leases.arn,
      "${aws_dynamodb_table.leases.arn}/index/LeaseOwnerToLeaseKeyIndex",
    ]
  }

  # The sink: one PutItem per change.
  statement {
    sid       = "WriteAudit"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.audit.arn]
  }
}

resource "aws_iam_role" "task" {
  name = "${var.app}-task"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "consumer" {
  name   = "${var.app}-consumer"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.consumer.json
}
