output "function_name" {
  value = aws_lambda_function.function.function_name
}

output "role_name" {
  value = aws_iam_role.function.name
}

output "failure_queue_url" {
  description = "FAILURE_QUEUE_URL, and what to give `shardline replay --from sqs:<url>`."
  value       = aws_sqs_queue.failures.url
}

output "failure_queue_arn" {
  value = aws_sqs_queue.failures.arn
}
