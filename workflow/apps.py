from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    """Repair tickets and their flow: status service, rules, messages, QA, allocation."""

    name = "workflow"
    verbose_name = "Workflow"
