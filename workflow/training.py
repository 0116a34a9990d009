"""Training and serving of the workflow models through the shared model registry
(predictive.models.TrainedModel): kind "repair_time" (triage: labour minutes and remaining time to
ready) and kind "comeback_risk". Each training run stores its backtest metrics beside the model.

Models are trained by `manage.py train_workflow_models`, by the daily periodic job when the
current one is older than WORKFLOW_MODEL_MAX_AGE_DAYS, and lazily on first use when none exists.
"""
import logging
import pickle
import threading
import time
from datetime import timedelta

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from mlanalytics.core import cache as result_cache

from .ml import comeback_risk, repair_time
from .models import QAInspection, RepairTicket, TicketStatus

log = logging.getLogger(__name__)
S = TicketStatus
REPAIR_TIME, COMEBACK_RISK = "repair_time", "comeback_risk"
SCOPE = "all"
TRAINING_YEARS = 2
MAX_AGE_DAYS = 7
_loaded = {}  # kind -> (TrainedModel pk, unpickled artifact), in process memory
_train_lock = threading.Lock()


# -- training frames -----------------------------------------------------------------------------


def labour_frame(since):
    rows = RepairTicket.objects.filter(labour_minutes__isnull=False, completed_at__gte=since).values_list(
        "id", "repair_type__code", "repair_type__device_category", "device_model__brand", "technician__code", "priority",
        "quoted_price", "repair_type__list_price", "warranty_of_id", "labour_minutes", "repair_type__standard_labour_minutes",
        "completed_at",
    )
    frame = pd.DataFrame(list(rows), columns=[
        "id", "repair_type", "device_category", "brand", "technician", "priority", "quoted_price", "list_price",
        "warranty_of", "labour_minutes", "standard_minutes", "completed",
    ])
    return add_labour_features(frame)


def add_labour_features(frame):
    frame["quote_ratio"] = pd.to_numeric(frame.quoted_price, errors="coerce").astype(float) / pd.to_numeric(frame.list_price).astype(float)
    frame["is_comeback"] = frame.warranty_of.notna()
    return frame


def remaining_frame(since):
    """Every status a recently completed ticket entered before ready, with the working minutes still to go."""
    from mlanalytics.core.models import Store

    from .selectors import events_frame

    stores = list(Store.objects.all())
    tickets = dict(RepairTicket.objects.filter(completed_at__gte=since, status__in=[S.READY, S.COLLECTED])
                   .values_list("id", "repair_type__code"))
    events, _ = events_frame(Q(ticket__completed_at__gte=since, ticket__status__in=[S.READY, S.COLLECTED]), stores)
    if events.empty:
        return pd.DataFrame(columns=["status", "repair_type", "remaining_working_minutes", "entered"])
    ready = events[events.status == S.READY].groupby("ticket").work.min()
    events = events[events.ticket.isin(ready.index)]
    events = events.assign(ready_work=events.ticket.map(ready))
    before = events[(events.work <= events.ready_work) & events.status.isin(list(OPEN_BEFORE_READY))]
    return pd.DataFrame({
        "status": before.status.to_numpy(), "repair_type": before.ticket.map(tickets).to_numpy(),
        "remaining_working_minutes": (before.ready_work - before.work).to_numpy(dtype=float),
        "entered": before["at"].to_numpy(),
    })


OPEN_BEFORE_READY = (S.RECEIVED, S.DIAGNOSING, S.AWAITING_APPROVAL, S.AWAITING_PARTS, S.IN_REPAIR, S.QUALITY_CHECK)


def consumption_suppliers(store_ids, since, until):
    """{ticket id: [supplier ids]} of the parts consumed at the stores in [since, until), from the stock ledger
    (the costliest part's supplier first). One indexed scan of the ledger, no join to tickets."""
    from inventory.models import StockMovement

    from django.db.models import FloatField
    from django.db.models.functions import Cast

    # The cost as a float in SQL: only its order matters here, and a Decimal per ledger row costs more than the query.
    rows = StockMovement.objects.filter(
        kind=StockMovement.Kind.CONSUMPTION, store_id__in=store_ids, at__gte=since, at__lt=until,
        supplier_id__isnull=False, ticket_id__isnull=False,
    ).annotate(cost=Cast("unit_cost", FloatField())).values_list("ticket_id", "supplier_id", "cost")
    costliest = {}  # ticket -> {supplier: its costliest part's unit cost}
    for ticket, supplier, cost in rows:
        per_ticket = costliest.setdefault(ticket, {})
        if cost > per_ticket.get(supplier, float("-inf")):
            per_ticket[supplier] = cost
    return {ticket: list(per_ticket) if len(per_ticket) == 1 else sorted(per_ticket, key=per_ticket.__getitem__, reverse=True)
            for ticket, per_ticket in costliest.items()}


def _came_back(repairs, until):
    """Per repair (frame with id, completed): whether a warranty comeback of it was booked in within 90 days
    (comebacks booked before `until` only)."""
    if repairs.empty:
        return pd.Series([], dtype=bool)
    since = repairs.completed.min()
    comebacks = pd.DataFrame(list(RepairTicket.objects.filter(
        warranty_of__isnull=False, received_at__gte=since, received_at__lt=until,
    ).values_list("warranty_of_id", "received_at")), columns=["original", "received"])
    if comebacks.empty:
        return pd.Series(False, index=repairs.index)
    comebacks["received"] = pd.to_datetime(comebacks.received, utc=True)
    completed = comebacks.original.map(dict(zip(repairs.id, repairs.completed)))
    came_back = set(comebacks.original[(comebacks.received - completed) <= pd.Timedelta(days=comeback_risk.FOLLOW_UP_DAYS)])
    return repairs.id.isin(came_back)


def repair_history(since, until):
    """Every store's repairs completed in [since, until) (technician code, repair type code, completed,
    came_back) and QA inspections in [since, until) (technician code, inspected_at, failed): the track
    record the comeback-risk features are counted from."""
    repairs = pd.DataFrame(list(RepairTicket.objects.filter(
        completed_at__gte=since, completed_at__lt=until, status__in=[S.READY, S.COLLECTED], labour_minutes__isnull=False,
    ).values_list("id", "technician__code", "repair_type__code", "completed_at")), columns=["id", "technician", "repair_type", "completed"])
    repairs["completed"] = pd.to_datetime(repairs.completed, utc=True)
    repairs["came_back"] = _came_back(repairs, until).to_numpy(dtype=bool) if len(repairs) else []
    inspections = pd.DataFrame(list(QAInspection.objects.filter(inspected_at__gte=since, inspected_at__lt=until).values_list(
        "ticket__technician__code", "inspected_at", "passed")), columns=["technician", "inspected_at", "passed"])
    inspections["inspected_at"] = pd.to_datetime(inspections.inspected_at, utc=True)
    inspections["failed"] = ~inspections.passed.astype(bool)
    return repairs, inspections


def add_comeback_features(frame, until):
    """Add the track-record features (comeback_risk.add_trailing_features) to repairs with technician,
    repair_type, received and completed, from the history before each one (fetched up to `until`)."""
    if frame.empty:
        return frame.assign(**{c: [] for c in comeback_risk.TRAILING})
    earliest = pd.to_datetime(frame.received, utc=True).min().to_pydatetime()
    since = earliest - timedelta(days=comeback_risk.TRAILING_DAYS + comeback_risk.FOLLOW_UP_DAYS)
    history, inspections = repair_history(since, until)
    return comeback_risk.add_trailing_features(frame, history, inspections)


def track_record_now(now):
    """The counts behind the track-record features as of `now`, aggregated in the database (two GROUP BY
    queries instead of a year of rows): ({technician: (repairs, comebacks)}, {repair type: (repairs,
    comebacks)}, {technician: (inspections, failures)}) over the same windows as in training. Repairs are
    counted once per (technician, repair type) and summed both ways here, so the comeback check runs once."""
    from django.db.models import Count, Exists, OuterRef

    from .models import RepairType, Technician

    follow = timedelta(days=comeback_risk.FOLLOW_UP_DAYS)
    lookback = timedelta(days=comeback_risk.TRAILING_DAYS)
    repairs = RepairTicket.objects.filter(
        completed_at__gte=now - lookback - follow, completed_at__lte=now - follow, status__in=[S.READY, S.COLLECTED],
        labour_minutes__isnull=False,
    ).annotate(came_back=Exists(RepairTicket.objects.filter(warranty_of=OuterRef("pk"), received_at__lte=OuterRef("completed_at") + follow)))
    technician_code = dict(Technician.objects.values_list("pk", "code"))
    type_code = dict(RepairType.objects.values_list("pk", "code"))

    def add(record, key, n, x):
        key = key if key is not None else "none"
        previous = record.get(key, (0, 0))
        record[key] = (previous[0] + n, previous[1] + x)

    by_technician, by_type, inspected = {}, {}, {}
    for technician, repair_type, n, x in (repairs.order_by().values("technician_id", "repair_type_id")
                                          .annotate(n=Count("id"), x=Count("id", filter=Q(came_back=True)))
                                          .values_list("technician_id", "repair_type_id", "n", "x")):
        add(by_technician, technician_code.get(technician), n, x)
        add(by_type, type_code.get(repair_type), n, x)
    for technician, n, x in (QAInspection.objects.filter(inspected_at__gte=now - lookback, inspected_at__lt=now).order_by()
                             .values("ticket__technician_id").annotate(n=Count("id"), x=Count("id", filter=Q(passed=False)))
                             .values_list("ticket__technician_id", "n", "x")):
        add(inspected, technician_code.get(technician), n, x)
    return by_technician, by_type, inspected


def own_inspections_now(ticket_ids, now):
    """{ticket id: (inspections, failures)} of these repairs' own QA inspections within the window
    track_record_now counts ([now − TRAILING_DAYS, now)): what comes out of their technician's record."""
    from django.db.models import Count

    rows = (QAInspection.objects.filter(ticket_id__in=list(ticket_ids), inspected_at__gte=now - timedelta(days=comeback_risk.TRAILING_DAYS),
                                        inspected_at__lt=now)
            .values("ticket_id").annotate(n=Count("id"), x=Count("id", filter=Q(passed=False))).values_list("ticket_id", "n", "x"))
    return {t: (n, x) for t, n, x in rows}


def features_now(frame, now):
    """The track-record features of repairs (id, technician, repair_type) scored at `now`: the record as it
    stands now, less each repair's own inspections (training never counts a repair's own inspections)."""
    own = own_inspections_now(frame.id.tolist(), now)
    return comeback_risk.features_from_counts(frame, *track_record_now(now),
                                              own_inspections=[own.get(i, (0, 0)) for i in frame.id])


def comeback_frame(since, until, store_ids=None):
    """Finished repairs (fixed) completed in [since, until) with features and whether they came back within 90 days."""
    filters = {"completed_at__gte": since, "completed_at__lt": until, "status__in": [S.READY, S.COLLECTED],
               "labour_minutes__isnull": False}
    if store_ids is not None:
        filters["store_id__in"] = list(store_ids)
    rows = RepairTicket.objects.filter(**filters).values_list(
        "id", "store_id", "technician__code", "repair_type__code", "repair_type__device_category", "labour_minutes",
        "repair_type__standard_labour_minutes", "received_at", "completed_at", "warranty_of_id")
    frame = pd.DataFrame(list(rows), columns=["id", "store", "technician", "repair_type", "device_category", "labour",
                                              "standard", "received", "completed", "warranty_of"])
    if frame.empty:
        return frame.assign(supplier=[], labour_ratio=[], qa_failed=[], is_comeback=[], came_back=[],
                            **{c: [] for c in comeback_risk.TRAILING})
    frame["completed"] = pd.to_datetime(frame.completed, utc=True)
    frame["received"] = pd.to_datetime(frame.received, utc=True)
    from mlanalytics.core.models import Store
    from inventory.models import Supplier

    stores = list(store_ids) if store_ids is not None else list(Store.objects.values_list("pk", flat=True))
    # Parts are consumed between booking in and completion; a 60-day margin before the window covers that.
    suppliers = consumption_suppliers(stores, since - timedelta(days=60), until)
    codes = dict(Supplier.objects.values_list("pk", "code"))
    frame["supplier"] = frame.id.map(lambda i: codes.get((suppliers.get(i) or [None])[0], "none"))
    frame["labour_ratio"] = frame.labour / frame.standard
    failed = set(QAInspection.objects.filter(passed=False, ticket__store_id__in=stores, inspected_at__gte=since - timedelta(days=30),
                                             inspected_at__lt=until).values_list("ticket_id", flat=True))
    frame["qa_failed"] = frame.id.isin(failed)
    frame["is_comeback"] = frame.warranty_of.notna()
    frame["came_back"] = _came_back(frame, until + timedelta(days=comeback_risk.FOLLOW_UP_DAYS)).to_numpy(dtype=bool)
    return add_comeback_features(frame, until)


# -- registry -------------------------------------------------------------------------------------


def _store(kind, method, fitted, metrics, parameters, output, started, data_start, data_end, n):
    from predictive.models import TrainedModel

    with transaction.atomic():
        version = (TrainedModel.objects.filter(kind=kind, scope=SCOPE).aggregate(v=Max("version"))["v"] or 0) + 1
        TrainedModel.objects.filter(kind=kind, scope=SCOPE, is_current=True).update(is_current=False)
        record = TrainedModel.objects.create(
            kind=kind, scope=SCOPE, version=version, method=method, status=TrainedModel.Status.READY, is_current=True,
            data_start=data_start, data_end=data_end, n_observations=n, parameters=parameters, metrics=metrics,
            output=output, artifact=pickle.dumps(fitted), duration_seconds=round(time.monotonic() - started, 2),
        )
    result_cache.bump_on_commit("models")
    _loaded[kind] = (record.pk, fitted)
    return record


def train_repair_time(now=None):
    """Fit the labour-minutes model and the remaining-time table; store them as kind repair_time."""
    now = now or timezone.now()
    started = time.monotonic()
    since = now - timedelta(days=365 * TRAINING_YEARS)
    frame = labour_frame(since)
    # A third of the rows without a technician teaches the trees the "not assigned yet" case of triage.
    mask = np.random.default_rng(0).random(len(frame)) < 0.3
    frame.loc[mask, "technician"] = None
    labour_model, labour_metrics = repair_time.fit_labour_model(frame)
    remaining = remaining_frame(now - timedelta(days=365))
    table, remaining_metrics = repair_time.fit_remaining_time(remaining)
    metrics = {"labour": labour_metrics, "remaining_time": remaining_metrics,
               "mae_minutes": labour_metrics["mae_minutes"], "mae_remaining_working_hours": remaining_metrics["mae_working_hours"]}
    return _store(
        REPAIR_TIME, "hist_gradient_boosting+conditional_median", labour_model, metrics,
        {"labour_features": repair_time.CATEGORICAL + repair_time.NUMERIC, "loss": "absolute_error", "max_iter": 80, "learning_rate": 0.15,
         "remaining_time": "median working minutes to ready by (status, repair type), min group 20"},
        {"remaining_table": table}, started, frame.completed.min().date(), frame.completed.max().date(), len(frame),
    )


def train_comeback_risk(now=None):
    """Fit the comeback-risk model on repairs whose 90-day window has closed; store as kind comeback_risk."""
    now = now or timezone.now()
    started = time.monotonic()
    until = now - timedelta(days=90)
    frame = comeback_frame(now - timedelta(days=365 * TRAINING_YEARS), until)
    model, metrics = comeback_risk.fit_comeback_model(frame)
    return _store(
        COMEBACK_RISK, metrics["method"], model, metrics,
        {"features": comeback_risk.CATEGORICAL + comeback_risk.NUMERIC, "candidates": list(comeback_risk.METHODS),
         "selection": "higher ROC AUC on the latest 25 %", "window_days": comeback_risk.FOLLOW_UP_DAYS,
         "trailing_days": comeback_risk.TRAILING_DAYS},
        {}, started, frame.completed.min().date(), frame.completed.max().date(), len(frame),
    )


TRAINERS = {REPAIR_TIME: train_repair_time, COMEBACK_RISK: train_comeback_risk}


def current(kind):
    from predictive.models import TrainedModel

    return (TrainedModel.objects.filter(kind=kind, scope=SCOPE, is_current=True, status=TrainedModel.Status.READY)
            .defer("artifact").first())


def load(kind, *, train_if_missing=True):
    """(TrainedModel, fitted object) of the current model of `kind`, training one first if none exists.
    Returns (None, None) when there is too little data to train."""
    record = current(kind)
    if record is None and train_if_missing:
        with _train_lock:
            record = current(kind)
            if record is None:
                try:
                    record = TRAINERS[kind]()
                except ValueError as exc:
                    log.warning("cannot train %s: %s", kind, exc)
                    return None, None
    if record is None:
        return None, None
    cached = _loaded.get(kind)
    if cached is not None and cached[0] == record.pk:
        return record, cached[1]
    # Only the current version of each kind is kept in memory; older ones are unreachable anyway.
    fitted = pickle.loads(bytes(type(record).objects.values_list("artifact", flat=True).get(pk=record.pk)))
    _loaded[kind] = (record.pk, fitted)
    return record, fitted


def model_block(record):
    """The `model` block of an API response: name, version, trained_at, data window and backtest metrics."""
    if record is None:
        return None
    return {
        "name": record.kind, "method": record.method, "version": record.version,
        "trained_at": record.trained_at.isoformat(),
        "data_window": {"start": record.data_start.isoformat() if record.data_start else None,
                        "end": record.data_end.isoformat() if record.data_end else None},
        "n_observations": record.n_observations, "backtest": record.metrics,
    }


def train_all(kinds=(REPAIR_TIME, COMEBACK_RISK)):
    """Train every workflow model kind; returns {kind: TrainedModel or error text}."""
    results = {}
    for kind in kinds:
        try:
            results[kind] = TRAINERS[kind]()
        except ValueError as exc:
            results[kind] = str(exc)
    return results


def retrain_stale(max_age_days=MAX_AGE_DAYS):
    """Periodic job: retrain any kind whose current model is missing or older than `max_age_days`."""
    stale = [kind for kind in TRAINERS
             if (record := current(kind)) is None or record.trained_at < timezone.now() - timedelta(days=max_age_days)]
    return train_all(stale) if stale else {}
