from django import forms
from django.contrib import admin

from mlanalytics.core.admin import ViewOnlyMixin

from .models import (
    AutomationRule, Customer, DeviceModel, MessageTemplate, OutboxMessage, QAInspection, RepairTicket,
    RepairType, RepairTypePart, RuleRun, Skill, Technician, TicketStatusEvent,
)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "phone", "home_store", "consent_email_service", "consent_sms_service", "created_at")
    list_filter = ("home_store", "consent_email_service", "consent_sms_service", "consent_email_marketing")
    search_fields = ("name", "email", "phone", "external_ref")
    list_select_related = ("home_store",)


@admin.register(DeviceModel)
class DeviceModelAdmin(admin.ModelAdmin):
    list_display = ("brand", "model_name", "category", "released_on")
    list_filter = ("category", "brand")
    search_fields = ("brand", "model_name")


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


class RepairTypePartInline(admin.TabularInline):
    model = RepairTypePart
    extra = 0
    autocomplete_fields = ("part", "device_model")


@admin.register(RepairType)
class RepairTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "device_category", "standard_labour_minutes", "list_price", "sla_hours", "is_active")
    list_filter = ("device_category", "is_active", "required_skills")
    search_fields = ("name", "code")
    filter_horizontal = ("required_skills",)
    inlines = [RepairTypePartInline]


@admin.register(RepairTypePart)
class RepairTypePartAdmin(admin.ModelAdmin):
    list_display = ("repair_type", "device_model", "part", "quantity")
    list_filter = ("repair_type",)
    search_fields = ("repair_type__name", "part__sku", "part__name", "device_model__model_name")
    list_select_related = ("repair_type", "device_model", "part")
    raw_id_fields = ("device_model", "part")


@admin.register(Technician)
class TechnicianAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "store", "hourly_cost", "is_active", "hired_on")
    list_filter = ("store", "is_active", "skills")
    search_fields = ("name", "code")
    filter_horizontal = ("skills",)


class StatusEventInline(ViewOnlyMixin, admin.TabularInline):
    """Events are written by workflow.services.change_status only: shown here, never added, edited or deleted."""

    model = TicketStatusEvent
    extra = 0
    readonly_fields = ("from_status", "to_status", "at", "user", "note")
    can_delete = False


@admin.register(RepairTicket)
class RepairTicketAdmin(admin.ModelAdmin):
    list_display = ("reference", "store", "status", "priority", "repair_type", "device_model", "technician",
                    "received_at", "completed_at", "final_price")
    list_filter = ("status", "store", "priority", "source", "repair_type__device_category", "outcome")
    search_fields = ("reference", "customer__name", "customer__email", "device_model__model_name")
    date_hierarchy = "received_at"
    list_select_related = ("store", "repair_type", "device_model", "technician")
    raw_id_fields = ("customer", "warranty_of", "device_model")
    readonly_fields = ("status",)  # status changes go through the ticket service, which records the event
    inlines = [StatusEventInline]


@admin.register(TicketStatusEvent)
class TicketStatusEventAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """The status history: written by workflow.services.change_status only, never edited."""

    list_display = ("ticket", "from_status", "to_status", "at", "user")
    list_filter = ("to_status",)
    search_fields = ("ticket__reference",)
    raw_id_fields = ("ticket",)
    date_hierarchy = "at"


@admin.register(QAInspection)
class QAInspectionAdmin(admin.ModelAdmin):
    list_display = ("ticket", "inspected_at", "passed", "inspector")
    list_filter = ("passed",)
    search_fields = ("ticket__reference",)
    raw_id_fields = ("ticket",)
    date_hierarchy = "inspected_at"


class MessageTemplateForm(forms.ModelForm):
    """The same checks as the API (workflow.messaging.template_problem): the allowed language, a render
    against a sample ticket within the caps, known variables only."""

    class Meta:
        model = MessageTemplate
        fields = "__all__"

    def clean(self):
        from .messaging import template_problem

        data = super().clean()
        for field in ("subject", "body"):
            problem = template_problem(data.get(field) or "")
            if problem:
                self.add_error(field, problem)
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ("code", "event", "channel", "purpose", "is_active")
    list_filter = ("channel", "purpose", "is_active")
    search_fields = ("code", "event", "subject", "body")


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "event", "channel", "to_address", "status", "attempts", "not_before", "sent_at")
    list_filter = ("status", "channel", "event")
    search_fields = ("to_address", "subject", "dedup_key", "provider_id")
    raw_id_fields = ("ticket", "customer")


@admin.register(AutomationRule)
class AutomationRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "trigger", "store", "enabled", "order", "updated_at")
    list_filter = ("trigger", "enabled", "store")
    search_fields = ("name", "description")


@admin.register(RuleRun)
class RuleRunAdmin(admin.ModelAdmin):
    list_display = ("at", "rule", "ticket", "trigger", "source", "dry_run", "matched", "user")
    list_filter = ("trigger", "source", "dry_run", "matched")
    raw_id_fields = ("ticket",)
    readonly_fields = ("rule", "ticket", "trigger", "source", "user", "dry_run", "matched", "actions", "error", "at")
