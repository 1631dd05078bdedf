"""Training, in one place: ``spec`` (what a job is asked to do), ``methods`` (the registry: one entry a method),
``data`` (training sets from the effective labels, exported to a job folder), ``losses``, ``jobs`` (start, poll,
cancel, record) and ``run`` (the process: ``python -m core.training.run JOB_FOLDER``), whose outcome is ``result``."""
