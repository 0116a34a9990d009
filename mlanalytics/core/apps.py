from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares: stores, users with roles and store access, alerts, audit log."""

    name = "mlanalytics.core"
    label = "core"
    verbose_name = "Shop and access"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import roles

        post_migrate.connect(roles.ensure_roles_after_migrate, sender=self)
