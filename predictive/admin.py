from django.contrib import admin

from .models import TrainedModel, TrainingRun


@admin.register(TrainedModel)
class TrainedModelAdmin(admin.ModelAdmin):
    list_display = ("kind", "scope", "version", "method", "status", "is_current", "data_end", "duration_seconds", "trained_at")
    list_filter = ("kind", "status", "is_current", "method")
    search_fields = ("scope",)
    exclude = ("artifact",)


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "status", "done_steps", "total_steps", "duration_seconds")
    list_filter = ("status",)
