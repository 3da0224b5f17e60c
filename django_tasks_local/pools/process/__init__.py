"""The process pool: worker processes under one supervisor thread.

See ``supervisor.py`` for the picture of how a job travels, and the decisions.
"""

from .supervisor import ProcessPool

__all__ = ["ProcessPool"]
