"""Reads of the predictive app that other apps use.

`parts_demand_forecast()` is the contract the inventory app builds its reorder policy on. Until a
trained parts-demand model is stored, it falls back to a 26-week moving average of the ledger's
consumption with its daily standard deviation (and says so in `method`).
"""
from datetime import timedelta

import numpy as np
import pandas as pd
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

DEMAND_COLUMNS = [
    "store_id", "part_id", "demand_class", "method", "daily_mean", "daily_sd", "adi", "cv2",
    "backtest", "model_version", "trained_at",
]


def classify_demand(adi, cv2):
    """Syntetos–Boylan (2005) classes by average demand interval and squared coefficient of variation."""
    if not np.isfinite(adi):
        return "none"
    if adi < 1.32:
        return "smooth" if cv2 < 0.49 else "erratic"
    return "intermittent" if cv2 < 0.49 else "lumpy"


def daily_consumption(store_ids=None, part_ids=None, days=182, end=None):
    """Units consumed per store, part and day over the last `days` days (a dense frame, zeros filled)."""
    from inventory.models import StockMovement

    end = end or timezone.localdate()
    start = end - timedelta(days=days - 1)
    rows = StockMovement.objects.filter(kind=StockMovement.Kind.CONSUMPTION, at__date__gte=start, at__date__lte=end)
    if store_ids is not None:
        rows = rows.filter(store_id__in=store_ids)
    if part_ids is not None:
        rows = rows.filter(part_id__in=part_ids)
    data = pd.DataFrame(
        rows.annotate(day=TruncDate("at")).values("store_id", "part_id", "day").annotate(units=-Sum("quantity"))
    )
    return data, start, end


def parts_demand_forecast(store_ids=None, part_ids=None):
    """Per store and part: demand class, expected units per day and the daily spread of demand.

    Fallback method (no trained model stored): 26-week moving average and standard deviation of daily
    consumption from the stock ledger; classes by Syntetos–Boylan ADI/CV².
    """
    data, start, end = daily_consumption(store_ids, part_ids)
    n_days = (end - start).days + 1
    if data.empty:
        return pd.DataFrame(columns=DEMAND_COLUMNS)
    rows = []
    for (store_id, part_id), group in data.groupby(["store_id", "part_id"]):
        series = np.zeros(n_days)
        offsets = (pd.to_datetime(group.day) - pd.Timestamp(start)).dt.days.to_numpy()
        series[offsets] = group.units.to_numpy()
        nonzero = series[series > 0]
        adi = n_days / len(nonzero) if len(nonzero) else float("inf")
        cv2 = float((nonzero.std() / nonzero.mean()) ** 2) if len(nonzero) > 1 else 0.0
        rows.append({
            "store_id": store_id, "part_id": part_id, "demand_class": classify_demand(adi, cv2),
            "method": "moving_average_26w", "daily_mean": float(series.mean()), "daily_sd": float(series.std(ddof=1)),
            "adi": adi, "cv2": cv2, "backtest": {}, "model_version": None, "trained_at": None,
        })
    return pd.DataFrame(rows, columns=DEMAND_COLUMNS)
