variable "name" {
  type        = string
  description = "The function's name; also names its role, log group, failure queue and alarm."
}

variable "stream_arn" {
  type        = string
  description = "The DynamoDB stream the function consumes (aws_dynamodb_table.x.stream_arn)."
}

variable "lambda_package" {
  type        = string
  description = "Path of the function's zip: the handler module bundled, e.g. esbuild src/lambda.ts --bundle --platform=node --format=esm --outfile=lambda.mjs, zipped."
}

variable "handler" {
  type        = string
  default     = "lambda.handler"
  description = "The exported handler: a Shardline createDynamoDBHandler that parks in FAILURE_QUEUE_URL."
}

variable "environment" {
  type        = map(string)
  default     = {}
  description = "The function's own variables. FAILURE_QUEUE_URL is added by this module (the failure queue)."
}

variable "sink_policy_json" {
  type        = string
  default     = null
  description = "An IAM policy document (JSON) for what the sink writes; null when the sink needs no AWS permission."
}

variable "memory_size" {
  type    = number
  default = 512
}

variable "timeout" {
  type        = number
  default     = 60
  description = "Seconds; at least 3x a batch's worst time. The handler answers before it with what is done."
}

variable "starting_position" {
  type        = string
  default     = "TRIM_HORIZON"
  description = "TRIM_HORIZON (every record the stream still holds) or LATEST."
  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.starting_position)
    error_message = "starting_position must be TRIM_HORIZON or LATEST (DynamoDB Streams have no AT_TIMESTAMP)."
  }
}

variable "batch_size" {
  type    = number
  default = 100
  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be 1 to 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  type    = number
  default = 1
}

variable "parallelization_factor" {
  type        = number
  default     = 1
  description = "Concurrent batches per shard. Shardline keeps per-key order at any factor; each batch runs in its own execution environment, so the warm dedup window is split."
  validation {
    condition     = var.parallelization_factor >= 1 && var.parallelization_factor <= 10
    error_message = "parallelization_factor must be 1 to 10."
  }
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "iterator_age_alarm_ms" {
  type        = number
  default     = 3600000
  description = "Alarm when the function is this far behind its stream (DynamoDB Streams keep records 24 h)."
}

variable "alarm_actions" {
  type        = list(string)
  default     = []
  description = "SNS topic ARNs told when the iterator age alarm fires."
}
