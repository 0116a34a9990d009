"""Dry runs no longer write the rule-run log (a page load or a preview must not grow a table). The rows earlier
dry runs left behind — one per rule and ticket for every load of the rules page — carry nothing the figures use
(they count real runs only) but recipients' addresses: they are deleted."""
from django.db import migrations


def delete_dry_runs(apps, schema_editor):
    apps.get_model("workflow", "RuleRun").objects.filter(dry_run=True).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("workflow", "0003_outbox_recorded_status_delivery_log"),
    ]

    operations = [
        migrations.RunPython(delete_dry_runs, migrations.RunPython.noop),
    ]
