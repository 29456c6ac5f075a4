"""Run a pipeline under real Mage the way one of its triggers does, and print every block run.

Plain ``mage run PROJECT PIPELINE`` skips conditionals, callbacks and retries and cannot run
dynamic blocks; Mage applies those only to a pipeline run recorded in its database. This script
records one (a schedule plus a pipeline run, with Mage's own models), runs it with
``mage run PROJECT PIPELINE --pipeline-run-id N`` and prints the status of each block run.

Run it with the interpreter of Mage's virtualenv (``bash scripts/setup_mage.sh`` creates it):

    .venvs/mage/bin/python scripts/mage_trigger_run.py tests/golden/mage_control_flow control_flow

Mage writes its database, block outputs and logs under the project's ``variables_dir``.
The exit code is that of ``mage run``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timezone


def main() -> int:
    """Parse the command line, record the pipeline run, run it and report its block runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", help="the Mage project folder")
    parser.add_argument("pipeline", help="the pipeline uuid")
    parser.add_argument("--execution-date", default="2024-01-15T00:00:00+00:00",
                        help="the run's execution date, ISO 8601 (default: %(default)s)")
    parser.add_argument("--interval", default="@daily",
                        help="the schedule interval of the trigger (default: %(default)s)")
    parser.add_argument("--runtime-vars", default=None,
                        help="JSON object passed on as mage run --runtime-vars")
    parser.add_argument("--json", action="store_true", help="print the block runs as JSON")
    options = parser.parse_args()

    project = os.path.abspath(options.project)
    from mage_ai.settings.repo import set_repo_path

    set_repo_path(project)
    from mage_ai.orchestration.db import db_connection
    from mage_ai.orchestration.db.database_manager import database_manager
    from mage_ai.orchestration.db.models.schedules import PipelineRun, PipelineSchedule

    database_manager.run_migrations()
    db_connection.start_session()
    execution_date = datetime.fromisoformat(options.execution_date)
    if execution_date.tzinfo is None:
        execution_date = execution_date.replace(tzinfo=timezone.utc)
    schedule = PipelineSchedule.create(
        name=f"{options.pipeline}_trigger_run",
        pipeline_uuid=options.pipeline,
        schedule_type="time",
        schedule_interval=options.interval,
        start_time=execution_date,
        status="active",
    )
    run = PipelineRun.create(
        pipeline_schedule_id=schedule.id,
        pipeline_uuid=options.pipeline,
        execution_date=execution_date,
        status=PipelineRun.PipelineRunStatus.RUNNING,
    )
    command = [os.path.join(os.path.dirname(sys.executable), "mage"), "run", project,
               options.pipeline, "--pipeline-run-id", str(run.id)]
    if options.runtime_vars is not None:
        command += ["--runtime-vars", options.runtime_vars]
    returncode = subprocess.call(command)

    db_connection.session.expire_all()
    block_runs = sorted(db_connection.session.get(PipelineRun, run.id).block_runs,
                        key=lambda block_run: block_run.id)
    rows = [{"block_uuid": b.block_uuid, "status": str(b.status), "metrics": b.metrics}
            for b in block_runs]
    if options.json:
        print(json.dumps({"pipeline_run_id": run.id, "mage_run_exit_code": returncode,
                          "block_runs": rows}, indent=2, default=str))
    else:
        print(f"pipeline run {run.id}: mage run exited {returncode}")
        for row in rows:
            print(f"  {row['block_uuid']:40} {row['status']}")
    return returncode


if __name__ == "__main__":
    sys.exit(main())
