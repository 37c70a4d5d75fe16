"""gunicorn settings file of `make run` (geoapp.serve passes it with -c).

A worker that has loaded the app (data read and validated, catalog built) writes its pid into
$ATLAS_READY_DIR; a worker that exits before that leaves `failed-<pid>` there (gunicorn itself would
only start another worker, which fails the same way, forever: wsgi.py exits with the data's
problems, not with gunicorn's boot-error code). geoapp.serve switches nginx to a new gunicorn only
when every worker of it is ready, and gives up on it at the first failed one.
"""
import os
from pathlib import Path


def post_worker_init(worker):  # in the worker, after the app is loaded
    ready = os.environ.get("ATLAS_READY_DIR")
    if ready:
        Path(ready, str(os.getpid())).touch()


def child_exit(server, worker):  # in the master, after a worker exited
    ready = os.environ.get("ATLAS_READY_DIR")
    if ready and not Path(ready, str(worker.pid)).exists():
        Path(ready, f"failed-{worker.pid}").touch()
