from django.db import models


class Note(models.Model):
    """A row a task writes from a worker, to prove the ORM works there."""

    text = models.CharField(max_length=200)
