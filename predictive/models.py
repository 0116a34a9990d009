"""The model registry: every training run with its data window, parameters, backtest and output."""
from django.db import models
from django.db.models import Q


class TrainedModel(models.Model):
    """One trained model for one kind and scope, e.g. repair_demand for store=LON1."""

    class Status(models.TextChoices):
        TRAINING = "training", "Training"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=40, db_index=True)
    scope = models.CharField(max_length=200, default="all", help_text="e.g. store=LON1|category=phone")
    version = models.PositiveIntegerField()
    method = models.CharField(max_length=60, help_text="The method served, e.g. prophet, seasonal_naive, bgnbd.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.TRAINING)
    is_current = models.BooleanField(default=False, help_text="The version requests are answered from.")
    data_start = models.DateField(null=True, blank=True)
    data_end = models.DateField(null=True, blank=True)
    n_observations = models.PositiveIntegerField(default=0)
    parameters = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Backtest metrics (MAE, MASE, coverage, AUC ...).")
    output = models.JSONField(default=dict, blank=True, help_text="Stored forecast or fitted summary served by the API.")
    artifact = models.BinaryField(null=True, blank=True, help_text="Serialized fitted model, when one is kept.")
    duration_seconds = models.FloatField(default=0)
    trained_at = models.DateTimeField(auto_now_add=True, db_index=True)
    error = models.TextField(blank=True)
    monitoring = models.JSONField(
        default=dict, blank=True, help_text="Latest live check: accuracy on the days since training, drift status."
    )
    training_run = models.ForeignKey(
        "TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="models",
        help_text="The run that trained it (empty when fitted on demand for a request).",
    )

    class Meta:
        ordering = ["kind", "scope", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "scope", "version"], name="unique_model_version"),
            models.UniqueConstraint(fields=["kind", "scope"], condition=Q(is_current=True), name="one_current_model_per_scope"),
        ]

    def __str__(self):
        return f"{self.kind}[{self.scope}] v{self.version} ({self.method})"


class TrainingRun(models.Model):
    """One run of `train_models` across kinds and scopes, for progress and history."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    kinds = models.JSONField(default=list)
    total_steps = models.PositiveIntegerField(default=0)
    done_steps = models.PositiveIntegerField(default=0)
    current_step = models.CharField(max_length=200, blank=True)
    log = models.JSONField(default=list, blank=True)
    duration_seconds = models.FloatField(default=0)
    triggered_by = models.CharField(max_length=40, blank=True, help_text="command, task, schedule or a username.")
    data_fingerprint = models.CharField(
        max_length=64, blank=True, help_text="Digest of the data trained on; --if-needed retrains only when it changes."
    )
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per model kind (wall clock).")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
