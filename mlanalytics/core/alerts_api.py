"""REST resource for alerts: /api/core/alerts/ — list (filters state/kind/store), acknowledge,
snooze, resolve, and a summary for the bell. Store-scoped and role-addressed like the live feed;
every change goes through mlanalytics.core.alerts and is written to the audit log."""
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from . import alerts as alert_service
from . import audit, live
from .api import HasCapability
from .cache import bump_on_commit
from .models import Alert, AuditLogEntry
from .strict_input import StrictJSONTypes
from .roles import ACKNOWLEDGE_ALERTS
from .scoping import resolve_store
from .selectors import visible_alerts

OPEN = "open"  # filter value: firing or acknowledged


class AlertFilter(serializers.Serializer):
    state = serializers.ChoiceField(choices=[(OPEN, "Open (firing or acknowledged)")] + list(Alert.State.choices),
                                    required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=Alert.Kind.choices, required=False, allow_blank=True)
    store = serializers.CharField(required=False, allow_blank=True)
    since_id = serializers.IntegerField(required=False, min_value=0)


class AlertSerializer(serializers.Serializer):
    """The same shape as the live "alert" event, plus who acknowledged it and whether it is held."""

    def to_representation(self, alert):
        data = alert_service.serialize_alert(alert)
        data["acknowledged_by"] = alert.acknowledged_by.username if alert.acknowledged_by_id else None
        data["held"] = alert.delivered_at is None and alert.state != Alert.State.RESOLVED
        data["kind_label"] = alert.get_kind_display()
        return data


class SnoozeRequest(StrictJSONTypes, serializers.Serializer):
    until = serializers.DateTimeField(required=False, help_text="Quiet until this moment (ISO 8601).")
    minutes = serializers.IntegerField(required=False, min_value=5, max_value=14 * 24 * 60,
                                       help_text="Or quiet for this many minutes (5 minutes to 14 days).")

    def validate(self, attrs):
        if not attrs.get("until") and not attrs.get("minutes"):
            raise serializers.ValidationError({"minutes": ["Give minutes to snooze for, or an until time."]})
        until = attrs.get("until") or timezone.now() + timedelta(minutes=attrs["minutes"])
        if until <= timezone.now():
            raise serializers.ValidationError({"until": ["The snooze must end in the future."]})
        if until > timezone.now() + timedelta(days=14):
            raise serializers.ValidationError({"until": ["Snooze for at most 14 days."]})
        attrs["until"] = until
        return attrs


def filtered_alerts(user, params):
    """The user's alerts narrowed by state, kind, store and since_id (shared by the API and the inbox page)."""
    qs = visible_alerts(user).select_related("store", "acknowledged_by")
    state = params.get("state")
    if state == OPEN:
        qs = qs.exclude(state=Alert.State.RESOLVED)
    elif state:
        qs = qs.filter(state=state)
    if params.get("kind"):
        qs = qs.filter(kind=params["kind"])
    if params.get("store"):
        qs = qs.filter(store=resolve_store(user, params["store"]))
    if params.get("since_id"):
        qs = qs.filter(id__gt=params["since_id"])
    return qs.order_by("-fired_at", "-id")


def unread_summary(user, stores=None):
    """The bell: firing alerts delivered to the user (not held, not snoozed) and the latest few."""
    now = timezone.now()
    qs = (visible_alerts(user, stores).filter(state=Alert.State.FIRING, delivered_at__isnull=False)
          .exclude(snoozed_until__gt=now).select_related("store"))
    latest = list(qs.order_by("-fired_at", "-id")[:5])
    last = visible_alerts(user, stores).filter(delivered_at__isnull=False).order_by("-id").values_list("id", flat=True).first()
    return {"unread": qs.count(), "latest": [alert_service.serialize_alert(a) for a in latest], "last_id": last or 0}


def alert_history(alert):
    """The alert's lifecycle as events: fired, delivered (or held), each person's action."""
    events = [{"at": alert.fired_at.isoformat(), "what": "fired", "who": None}]
    if alert.delivered_at:
        events.append({"at": alert.delivered_at.isoformat(), "what": "delivered" if alert.delivered_at > alert.fired_at + timedelta(seconds=5) else "delivered at once", "who": None})
    for entry in AuditLogEntry.objects.filter(object_type="core.alert", object_id=str(alert.pk)).select_related("user").order_by("at"):
        events.append({"at": entry.at.isoformat(), "what": entry.action.replace("alert.", ""), "who": entry.user.username if entry.user_id else None,
                       "changes": entry.changes})
    if alert.resolved_at and not any(e["what"] == "resolve" for e in events):
        events.append({"at": alert.resolved_at.isoformat(), "what": "resolved (condition cleared)", "who": None})
    return sorted(events, key=lambda e: e["at"])


def acknowledge_alert(alert, user):
    was = alert.state
    alert_service.acknowledge(alert, user)
    if was != alert.state:
        audit.record(user, "alert.acknowledge", alert, changes={"from": was, "to": alert.state})
        bump_on_commit("alerts")
    return alert


def snooze_alert(alert, user, until):
    alert_service.snooze(alert, user, until)
    audit.record(user, "alert.snooze", alert, changes={"until": until.isoformat()})
    live.publish("alert_snoozed", alert_service.serialize_alert(alert), alert.store_id)
    bump_on_commit("alerts")
    return alert


def resolve_alert(alert, user):
    was = alert.state
    alert_service.resolve_alert(alert, user=user)
    if was != alert.state:
        audit.record(user, "alert.resolve", alert, changes={"from": was, "to": alert.state})
        bump_on_commit("alerts")
    return alert


@extend_schema_view(
    list=extend_schema(tags=["alerts"], summary="Alerts of your stores addressed to your role", parameters=[AlertFilter]),
    retrieve=extend_schema(tags=["alerts"], summary="One alert with its history"),
)
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [permissions.IsAuthenticated, HasCapability]
    capability = ACKNOWLEDGE_ALERTS
    serializer_class = AlertSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user, no query
            return Alert.objects.none()
        if self.action == "list":
            params = AlertFilter(data=self.request.query_params)
            params.is_valid(raise_exception=True)
            return filtered_alerts(self.request.user, params.validated_data)
        return visible_alerts(self.request.user).select_related("store", "acknowledged_by")

    def retrieve(self, request, *args, **kwargs):
        alert = self.get_object()
        return Response({**AlertSerializer(alert).data, "history": alert_history(alert)})

    @extend_schema(tags=["alerts"], summary="Acknowledge: someone is on it", request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        return Response(AlertSerializer(acknowledge_alert(self.get_object(), request.user)).data)

    @extend_schema(tags=["alerts"], summary="Snooze until a time or for some minutes", request=SnoozeRequest, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def snooze(self, request, pk=None):
        alert = self.get_object()
        body = SnoozeRequest(data=request.data)
        body.is_valid(raise_exception=True)
        return Response(AlertSerializer(snooze_alert(alert, request.user, body.validated_data["until"])).data)

    @extend_schema(tags=["alerts"], summary="Resolve: the condition is dealt with", request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        return Response(AlertSerializer(resolve_alert(self.get_object(), request.user)).data)

    @extend_schema(tags=["alerts"], summary="The bell: unread count and the latest alerts")
    @action(detail=False, methods=["get"])
    def summary(self, request):
        return Response(unread_summary(request.user))
