variable "app" {
  type        = string
  default     = "orders-consumer"
  description = "The application name (SHARDLINE_APP): names the lease table, the log group, the service and the lag metric's dimension."
}

variable "image" {
  type        = string
  description = "The consumer's image, built with examples/ecs-consumer/Dockerfile and pushed to ECR, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/shardline-ecs-consumer:1.0.0."
}

variable "vpc_id" {
  type        = string
  description = "The VPC of the tasks."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets of the tasks: private subnets with a NAT gateway or VPC endpoints for DynamoDB, DynamoDB Streams, ECR and CloudWatch Logs."
}

variable "assign_public_ip" {
  type        = bool
  default     = false
  description = "True only for public subnets without NAT (the task must reach the AWS APIs)."
}

variable "cpu" {
  type    = number
  default = 512
}

variable "memory" {
  type    = number
  default = 1024
}

variable "log_level" {
  type        = string
  default     = "info"
  description = "SHARDLINE_LOG_LEVEL: fatal, error, warn, info, debug or trace."
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "shutdown_timeout_ms" {
  type        = number
  default     = 25000
  description = "SHARDLINE_SHUTDOWN_TIMEOUT_MS: on SIGTERM the worker stops reading, finishes in-flight records, commits and releases its leases within this time. ECS's stopTimeout is set 5 s above it, so SIGKILL never cuts a clean stop short."
  validation {
    condition     = var.shutdown_timeout_ms >= 1000 && var.shutdown_timeout_ms <= 115000
    error_message = "shutdown_timeout_ms must be 1000 to 115000: Fargate's stopTimeout (this plus 5 s) is at most 120 s."
  }
}

variable "min_tasks" {
  type        = number
  default     = 1
  description = "Fewest tasks. At least 1: the lag metric is written by the tasks themselves, so at zero tasks it has no data and the service could never scale out again."
  validation {
    condition     = var.min_tasks >= 1
    error_message = "min_tasks must be at least 1: with no task nobody reads the stream and nothing reports the lag that would scale the service out."
  }
}

variable "max_tasks" {
  type        = number
  default     = 4
  description = "Most tasks. A shard is read by one task at a time, so tasks beyond the number of open shards hold no lease and only wait (healthy, idle): set it to at most the shard count (a DynamoDB stream has about one shard per table partition)."
}

variable "lag_target_ms" {
  type        = number
  default     = 60000
  description = "Target of the slowest shard's lag (Maximum of the lag metric), in ms: above it the service scales out, well below it in."
}

variable "lag_alarm_ms" {
  type        = number
  default     = 3600000
  description = "Alarm when the slowest shard is this far behind (DynamoDB Streams keep records 24 h)."
}

variable "alarm_actions" {
  type        = list(string)
  default     = []
  description = "SNS topic ARNs told when the lag alarm fires."
}
