from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from . import accounts
from .models import Alert, AuditLogEntry, DemoDataset, ImportJob, ReportSubscription, Store, User


class ViewOnlyMixin:
    """For a ModelAdmin or an inline: listed and viewable, never added, edited or deleted here. For rows that
    change only through their services (ledgers, status history, the audit log), which keep the balances, the
    audit trail and the live events in step."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "city", "timezone", "holiday_country", "holiday_subdivision", "is_active", "opened_on")
    list_filter = ("is_active", "city")
    search_fields = ("code", "name", "city")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "role_name", "all_stores", "is_active")
    list_filter = ("groups", "all_stores", "is_active", "is_staff")
    filter_horizontal = ("groups", "user_permissions", "stores")
    fieldsets = DjangoUserAdmin.fieldsets + (("Store access", {"fields": ("all_stores", "stores")}),)

    actions = ["send_password_reset", "revoke_tokens"]

    @admin.display(description="role")
    def role_name(self, obj):
        return obj.role

    @admin.action(description="Reset the password: end its tokens and sessions now, email a link to set a new one")
    def send_password_reset(self, request, queryset):
        sent, refused = [], []
        for user in queryset:
            try:
                accounts.send_password_reset(user=user, base_url=request.build_absolute_uri("/"), by=request.user)
                sent.append(user.username)
            except accounts.NoEmailAddress as exc:
                refused.append(exc.message)
        if sent:
            self.message_user(request, f"Reset link sent to {', '.join(sent)}; "
                                       "their old password and tokens no longer work.")
        for message in refused:
            self.message_user(request, message, level=messages.ERROR)

    @admin.action(description="End every API token of these users (password and sessions stay)")
    def revoke_tokens(self, request, queryset):
        for user in queryset:
            accounts.revoke_tokens(user=user, by=request.user, reason="ended by an admin")
        self.message_user(request, f"Tokens of {queryset.count()} user(s) ended.")


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("fired_at", "kind", "severity", "state", "store", "title", "delivered_at")
    list_filter = ("state", "kind", "severity", "store")
    search_fields = ("title", "dedup_key", "subject_id")
    date_hierarchy = "fired_at"
    list_select_related = ("store",)


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Append-only: written by core.audit.record() from services."""

    list_display = ("at", "user", "action", "object_type", "object_id", "store")
    list_filter = ("action", "object_type", "store")
    search_fields = ("object_id", "user__username", "action")
    date_hierarchy = "at"


@admin.register(DemoDataset)
class DemoDatasetAdmin(admin.ModelAdmin):
    list_display = ("created_at", "seed", "scale", "start_date", "end_date", "duration_seconds")


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "view", "store", "period", "format", "skip_when_empty", "is_active", "last_sent_at", "last_status")
    list_filter = ("period", "format", "is_active", "store")
    search_fields = ("user__username", "view")


@admin.register(ImportJob)
class ImportJobAdmin(ViewOnlyMixin, admin.ModelAdmin):
    """Uploads of the import page: they change only through the page (mlanalytics.imports.services)."""

    list_display = ("created_at", "user", "entity", "file_name", "size", "status", "applied_at")
    list_filter = ("status", "entity")
    search_fields = ("file_name", "sha256", "user__username")
    exclude = ("content",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content")
