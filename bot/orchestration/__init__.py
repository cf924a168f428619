"""Run orchestration: the runner, planner, outbox deliverer, executors, recovery and schedules."""
