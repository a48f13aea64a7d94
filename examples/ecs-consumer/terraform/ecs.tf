# The service: a Fargate fleet of Shardline workers sharing the stream's shards through the
# lease table. Stopping a task (deploy, scale-in) sends SIGTERM: the worker finishes in-flight
# records, commits, releases its leases and exits 0, and the other tasks take the shards.

locals {
  http_port = 8080

  # The one container. Kept as an object (not inline in jsonencode) so tests can read it.
  consumer_container = {
    name      = "consumer"
    image     = var.image
    essential = true
    # Seconds between SIGTERM and SIGKILL: the worker's shutdown budget plus 5 s.
    stopTimeout = ceil(var.shutdown_timeout_ms / 1000) + 5
    portMappings = [
      { containerPort = local.http_port, protocol = "tcp", name = "http" },
    ]
    environment = [
      { name = "AWS_REGION", value = data.aws_region.current.name },
      { name = "SHARDLINE_APP", value = var.app },
      { name = "SHARDLINE_LEASE_TABLE", value = aws_dynamodb_table.leases.name },
      { name = "SHARDLINE_SOURCE_TABLE", value = aws_dynamodb_table.orders.name },
      { name = "SHARDLINE_AUDIT_TABLE", value = aws_dynamodb_table.audit.name },
      { name = "SHARDLINE_LOG_LEVEL", value = var.log_level },
      # /healthz, /readyz, /metrics (Prometheus) and the console: all interfaces of the task's
      # own network interface (awsvpc), which the security group below keeps closed from outside.
      { name = "SHARDLINE_HTTP_HOST", value = "0.0.0.0" },
      { name = "SHARDLINE_HTTP_PORT", value = tostring(local.http_port) },
      { name = "SHARDLINE_SHUTDOWN_TIMEOUT_MS", value = tostring(var.shutdown_timeout_ms) },
      # The lag, once a minute per shard, as CloudWatch EMF on stdout (autoscaling.tf).
      { name = "SHARDLINE_EMF_LAG_INTERVAL_MS", value = "60000" },
    ]
    healthCheck = {
      command = [
        "CMD",
        "node",
        "-e",
        "fetch('http://127.0.0.1:${local.http_port}/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))",
      ]
      interval    = 15
      timeout     = 3
      retries     = 3
      startPeriod = 30
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.consumer.name
        "awslogs-region"        = data.aws_region.current.name
        "awslogs-stream-prefix" = "consumer"
      }
    }
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.app

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

# The workers' JSON logs and the EMF lag lines (CloudWatch extracts the metric from them).
resource "aws_cloudwatch_log_group" "consumer" {
  name              = "/ecs/${var.app}"
  retention_in_days = var.log_retention_days
}

# The role ECS uses to start the task: pull the image, write the logs.
resource "aws_iam_role" "execution" {
  name               = "${var.app}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullImage"
    actions   = ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = ["*"]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.consumer.arn}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.app}-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_ecs_task_definition" "consumer" {
  family                   = var.app
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = jsonencode([local.consumer_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

# Outbound only (the AWS APIs). To scrape /metrics from inside the VPC, add an ingress rule on
# the HTTP port from your Prometheus.
resource "aws_security_group" "consumer" {
  name        = "${var.app}-tasks"
  description = "Shardline consumer tasks: outbound to the AWS APIs only"
  vpc_id      = var.vpc_id

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_ecs_service" "consumer" {
  name            = var.app
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.consumer.arn
  launch_type     = "FARGATE"
  desired_count   = var.min_tasks

  # Rolling deploys start the new tasks before stopping old ones; the old ones hand their
  # leases over on SIGTERM, so a deploy moves shards without a gap longer than a take interval.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.consumer.id]
    assign_public_ip = var.assign_public_ip
  }

  # The task count belongs to autoscaling (autoscaling.tf) after the first apply.
  lifecycle {
    ignore_changes = [desired_count]
  }
}
