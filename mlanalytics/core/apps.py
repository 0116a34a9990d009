from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: stores, users with roles and store access, alerts, audit log."""

    name = "mlanalytics.core"
    label = "core"
    verbose_name = "Shop and access"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import jobs, requestid, roles

        post_migrate.connect(roles.ensure_roles_after_migrate, sender=self)
        requestid.connect_request_signals()
        # Alerts held while a store was closed go out once it opens (mute timings).
        jobs.periodic("release_held_alerts", 60, "mlanalytics.core.alerts.release_held_alerts")
        # Report subscriptions are emailed from 07:00 on their due day.
        jobs.periodic("send_due_reports", 300, "mlanalytics.exports.subscriptions.send_due_reports")
