from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    """Repair tickets and their flow: status service, rules, messages, QA, allocation."""

    name = "workflow"
    verbose_name = "Workflow"

    def ready(self):
        from mlanalytics.core import jobs

        from . import checks, receivers  # noqa: F401  (deployment checks; the rules engine on the ticket and stock signals)

        jobs.periodic("workflow.deliver_outbox", 60, "workflow.tasks.deliver_outbox")
        jobs.periodic("workflow.sweep", 300, "workflow.tasks.sweep")
        jobs.periodic("workflow.qa_control", 3600, "workflow.tasks.check_qa_control")
        jobs.periodic("workflow.qa_recheck", 60, "workflow.tasks.recheck_qa_control")
        jobs.periodic("workflow.retrain_models", 24 * 3600, "workflow.tasks.retrain_models")
