"""Tests of the example project, with Django's test client and real task backends.

Run them with ``python manage.py test`` from the ``example`` directory. Tasks run
for real on the configured pools, with their results and queue in the test
database; the tests wait for them with ``django_tasks_local.wait()``, never by
sleeping. ``TransactionTestCase``, not ``TestCase``: an enqueue joins the
current transaction, and a task is seen by the workers only once it commits.
"""

from __future__ import annotations

import datetime
import os

from django.core import mail
from django.db import transaction
from django.tasks import task_backends
from django.test import TransactionTestCase
from django.utils import timezone

from django_tasks_local import wait

from .tasks import build_report

#: Seconds to wait for a task; only a deadlock gets near it.
DEADLINE = 30


class TaskViewsTests(TransactionTestCase):
    @classmethod
    def tearDownClass(cls):
        # Stop the pools this class started, so nothing outlives the tests.
        for alias in ("default", "cpu"):
            task_backends[alias].close()
        super().tearDownClass()

    def tearDown(self):
        # Every status change is in the database before the test empties it.
        for alias in ("default", "cpu"):
            self.assertTrue(task_backends[alias].join(DEADLINE))
        super().tearDown()

    def finished(self, described: dict) -> dict:
        """Wait for the task an API answer describes, then fetch its status."""
        wait(task_backends[described["backend"]].get_result(described["id"]), DEADLINE)
        return self.client.get(described["status_url"]).json()

    def test_welcome_email_answers_202_at_once_and_sends_the_mail(self):
        response = self.client.post(
            "/tasks/welcome-email/", {"address": "ada@example.com"}
        )
        self.assertEqual(response.status_code, 202)
        described = response.json()
        self.assertEqual(described["task"], "send_welcome_email")
        self.assertIn(described["status"], ("READY", "RUNNING", "SUCCESSFUL"))

        status = self.finished(described)

        self.assertEqual(status["status"], "SUCCESSFUL")
        self.assertEqual(status["result"], 1)
        self.assertEqual([m.to for m in mail.outbox], [["ada@example.com"]])

    def test_welcome_email_refuses_a_bad_address(self):
        response = self.client.post("/tasks/welcome-email/", {"address": "nobody"})
        self.assertEqual(response.status_code, 400)
        self.assertIn("address", response.json()["error"])

    def test_report_redirects_to_its_status_page_and_reports_progress(self):
        response = self.client.post("/tasks/report/", {"rows": "3"})
        self.assertEqual(response.status_code, 303)
        page = self.client.get(response["Location"])
        self.assertEqual(page.status_code, 200)
        self.assertContains(page, "build_report")
        status_url = page.context["task"]["status_url"]

        # A long poll: the view waits for the task (at most `wait` seconds).
        status = self.client.get(status_url, {"wait": DEADLINE}).json()

        self.assertEqual(status["status"], "SUCCESSFUL")
        self.assertEqual(status["result"], {"rows": 3})
        self.assertEqual(status["progress"], {"done": 3, "total": 3})
        self.assertTrue(status["worker"])
        finished_page = self.client.get(response["Location"])
        self.assertContains(finished_page, "SUCCESSFUL")
        self.assertNotContains(finished_page, '<script id="poll"')

    def test_primes_run_in_a_worker_process_and_report_progress(self):
        response = self.client.post("/tasks/primes/", {"limit": "10000"})
        self.assertEqual(response.status_code, 303)
        self.assertTrue(response["Location"].startswith("/tasks/cpu/"))
        page = self.client.get(response["Location"])
        status_url = page.context["task"]["status_url"]

        status = self.client.get(status_url, {"wait": DEADLINE}).json()

        self.assertEqual(status["status"], "SUCCESSFUL")
        self.assertEqual(status["result"], 1229)
        # Saved by the worker process, read here: it is the result's metadata.
        self.assertEqual(status["progress"], {"done": 10, "total": 10})
        worker_pid = int(status["worker"].split(":")[1])
        self.assertNotEqual(worker_pid, os.getpid())

    def test_primes_refuse_a_bad_limit(self):
        for limit in ("", "5", "ten"):
            with self.subTest(limit=limit):
                response = self.client.post("/tasks/primes/", {"limit": limit})
                self.assertEqual(response.status_code, 400)

    def test_report_refuses_a_bad_row_count(self):
        for rows in ("", "0", "101", "ten"):
            with self.subTest(rows=rows):
                response = self.client.post("/tasks/report/", {"rows": rows})
                self.assertEqual(response.status_code, 400)

    def test_status_page_polls_until_the_task_finishes(self):
        # Enqueued in a transaction: no worker sees the task before the commit,
        # so it is certainly still READY while the page loads.
        with transaction.atomic():
            result = build_report.enqueue(rows=1, seconds_per_row=0)
            page_url = f"/tasks/default/{result.id}/"
            waiting = self.client.get(page_url)
            self.assertContains(waiting, '<script id="poll"')
            self.assertEqual(
                self.client.get(f"/tasks/default/{result.id}.json").json()["status"],
                "READY",
            )

        wait(result, DEADLINE)
        done = self.client.get(page_url)
        self.assertNotContains(done, '<script id="poll"')
        self.assertContains(done, "SUCCESSFUL")

    def test_a_deferred_task_waits_in_the_database_when_the_backend_closes(self):
        later = timezone.now() + datetime.timedelta(hours=1)
        result = build_report.using(run_after=later).enqueue(rows=1, seconds_per_row=0)

        task_backends["default"].close()  # as at a restart: nothing is dropped

        status = self.client.get(f"/tasks/default/{result.id}.json").json()
        self.assertEqual(status["status"], "READY")
        self.assertIsNone(status["error"])

    def test_unknown_results_and_backends_are_404(self):
        unknown = "00000000-0000-0000-0000-000000000000"
        self.assertEqual(self.client.get(f"/tasks/default/{unknown}/").status_code, 404)
        self.assertEqual(
            self.client.get(f"/tasks/nope/{unknown}.json").status_code, 404
        )

    def test_index_offers_every_task(self):
        page = self.client.get("/")
        self.assertContains(page, 'action="/tasks/report/"')
        self.assertContains(page, 'action="/tasks/welcome-email/"')
        self.assertContains(page, 'action="/tasks/primes/"')
