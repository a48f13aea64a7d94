# Autoscaling on the lag. How the lag reaches CloudWatch: each task's worker writes, once a
# minute per shard it reads, an Embedded Metric Format line on stdout (SHARDLINE_EMF_LAG_INTERVAL_MS,
# @shardline/worker's EmfLagReporter); the awslogs driver ships it to the log group and CloudWatch
# turns it into a data point of metric iterator_age_ms, namespace Shardline, dimension
# service = the application. Its Maximum is the lag of the slowest shard across the fleet. No
# CloudWatch agent and no PutMetricData permission are involved.

resource "aws_appautoscaling_target" "consumer" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.consumer.name}"
  min_capacity       = var.min_tasks
  max_capacity       = var.max_tasks
}

# Target tracking: more tasks while the slowest shard is behind the target, fewer (one at a
# time, slowly) while it is well under. A scale-in stops a task with SIGTERM; it hands its
# leases over within the shutdown budget, so no record is lost or read twice past a checkpoint.
resource "aws_appautoscaling_policy" "lag" {
  name               = "${var.app}-lag"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.consumer.service_namespace
  scalable_dimension = aws_appautoscaling_target.consumer.scalable_dimension
  resource_id        = aws_appautoscaling_target.consumer.resource_id

  target_tracking_scaling_policy_configuration {
    target_value = var.lag_target_ms
    # Out fast: a new task takes shards within one take interval. In slowly: every scale-in
    # moves shards (a pause of about a take interval on each), so wait out bursts.
    scale_out_cooldown = 60
    scale_in_cooldown  = 600
    disable_scale_in   = false

    customized_metric_specification {
      namespace   = "Shardline"
      metric_name = "iterator_age_ms"
      statistic   = "Maximum"
      unit        = "Milliseconds"

      dimensions {
        name  = "service"
        value = var.app
      }
    }
  }
}

# The one signal that the fleet cannot keep up (or is stuck on a record): DynamoDB Streams keep
# records 24 h, so act long before.
resource "aws_cloudwatch_metric_alarm" "lag_high" {
  alarm_name          = "${var.app}-lag-high"
  alarm_description   = "The slowest shard of ${var.app} is more than ${var.lag_alarm_ms} ms behind."
  namespace           = "Shardline"
  metric_name         = "iterator_age_ms"
  dimensions          = { service = var.app }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.lag_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  # No data means no task reads any shard: that is an alarm too.
  treat_missing_data = "breaching"
  alarm_actions      = var.alarm_actions
}

output "cluster_name" {
  value = aws_ecs_cluster.this.name
}

output "service_name" {
  value = aws_ecs_service.consumer.name
}

output "log_group" {
  value = aws_cloudwatch_log_group.consumer.name
}
