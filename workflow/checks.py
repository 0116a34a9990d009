"""System checks of the workflow app (`manage.py check --deploy`).

Customer messages must really reach customers in production: a mail backend that only writes files
(the embedded default, EMAIL_URL=filemail://) or the SMS outbox double (SMS_PROVIDER=outbox) would
let the outbox fill up with messages nobody received. The app marks such messages `recorded`, never
`sent`; these checks say so before the deployment goes live.
"""
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.compatibility, deploy=True)
def customer_message_delivery(app_configs, **kwargs):
    from .messaging import RECORD_ONLY_EMAIL_BACKENDS
    from .sms import PROVIDERS

    problems = []
    if settings.EMAIL_BACKEND in RECORD_ONLY_EMAIL_BACKENDS:
        problems.append(Warning(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND.rsplit('.', 2)[-2]}: customer emails are only recorded, never delivered.",
            hint="Set EMAIL_URL to your mail server, e.g. smtp+tls://user:password@mail.example.co.uk:587.",
            id="workflow.W001",
        ))
    if settings.SMS_PROVIDER not in PROVIDERS:
        problems.append(Error(
            f"SMS_PROVIDER '{settings.SMS_PROVIDER}' is not an SMS adapter.", hint="Use http (a gateway) or outbox (record only).",
            id="workflow.E001",
        ))
    elif settings.SMS_PROVIDER == "outbox":
        problems.append(Warning(
            "SMS_PROVIDER is outbox: customer SMS are only recorded, never delivered.",
            hint="Set SMS_PROVIDER=http with SMS_API_URL and SMS_API_KEY of your SMS gateway.",
            id="workflow.W002",
        ))
    elif not settings.SMS_API_URL:
        problems.append(Error("SMS_PROVIDER is http but SMS_API_URL is empty.", hint="Set SMS_API_URL (and SMS_API_KEY).",
                              id="workflow.E002"))
    return problems


@register(Tags.compatibility)
def workflow_weights(app_configs, **kwargs):
    """The hand-set weights name every priority and score component, and are not negative."""
    from .models import Priority

    problems = []
    expected = {
        "WORKFLOW_PRIORITY_SCORE_WEIGHTS": {"priority", "sla_pressure", "age", "comeback"},
        "WORKFLOW_PRIORITY_LEVELS": set(Priority.values),
        "WORKFLOW_ALLOCATION_PRIORITY_WEIGHTS": set(Priority.values),
    }
    for name, keys in expected.items():
        value = getattr(settings, name, {})
        if set(value) != keys or any(v < 0 for v in value.values()):
            problems.append(Error(f"{name} must give a non-negative number for each of {', '.join(sorted(keys))}; it is {value}.",
                                  hint=f"e.g. {name}=" + ",".join(f"{k}=1" for k in sorted(keys)), id="workflow.E003"))
    if not sum(getattr(settings, "WORKFLOW_PRIORITY_SCORE_WEIGHTS", {}).values()):
        problems.append(Error("WORKFLOW_PRIORITY_SCORE_WEIGHTS are all zero.", id="workflow.E004"))
    for name in ("WORKFLOW_SLA_PRESSURE_HOURS", "WORKFLOW_PRIORITY_AGE_FULL_HOURS"):
        if getattr(settings, name) <= 0:
            problems.append(Error(f"{name} must be more than 0.", id="workflow.E005"))
    return problems
