# The data side of the ECS consumer: the source table with its stream, the lease table, the
# audit (sink) table, and the task role with exactly the actions the worker needs. The service
# itself (cluster, task definition, logs, autoscaling) is in ecs.tf and autoscaling.tf.

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

  # Read the table's stream (the one DescribeTable names): shards, iterators, records.
  statement {
    sid = "ReadSourceStream"
    actions = [
      "dynamodb:DescribeStream",
      "dynamodb:GetShardIterator",
      "dynamodb:GetRecords",
    ]
    resources = [aws_dynamodb_table.orders.stream_arn]
  }

  # Leases, checkpoints and the coordination item. DescribeTable/CreateTable: the worker calls
  # CreateTable at start and takes "already exists" as done (set createLeaseTable: false in code
  # to drop CreateTable).
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

  # The sink: one PutItem per change. No CloudWatch permission: the lag reaches CloudWatch as EMF
  # lines in the task's logs, written by the awslogs driver with the execution role.
  statement {
    sid       = "WriteAudit"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.audit.arn]
  }
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# The role the consumer's code runs as.
resource "aws_iam_role" "task" {
  name               = "${var.app}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy" "consumer" {
  name   = "${var.app}-consumer"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.consumer.json
}
