"""The audit log: services call `record()` whenever a person changes something."""
from .models import AuditLogEntry


def record(user, action, obj=None, *, changes=None, store=None, object_type=None, object_id=None):
    """Write one audit entry. `obj` gives the type and id unless they are passed explicitly."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        store = store or getattr(obj, "store", None)
    return AuditLogEntry.objects.create(
        user=user if user is not None and getattr(user, "is_authenticated", False) else None,
        action=action,
        object_type=object_type or "",
        object_id=object_id or "",
        store=store,
        changes=changes or {},
    )
