"""factory_boy factories for the shop's records, for tests that build their own data."""
import factory
from django.utils import timezone

from inventory.models import Part, Stock, Supplier
from mlanalytics.core.models import Store
from workflow.models import Customer, DeviceModel, RepairType, Technician


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    code = factory.Sequence(lambda n: f"T{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Test store {o.code}")


class DeviceModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeviceModel

    category = "phone"
    brand = "Testco"
    model_name = factory.Sequence(lambda n: f"Phone {n}")


class RepairTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RepairType

    code = factory.Sequence(lambda n: f"test-repair-{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").title())
    device_category = "phone"
    standard_labour_minutes = 45
    list_price = 79


class PartFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Part

    sku = factory.Sequence(lambda n: f"TEST-{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Test part {o.sku}")
    category = "screen"
    unit_cost = 20
    price = 40


class SupplierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Supplier

    code = factory.Sequence(lambda n: f"test-supplier-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    quoted_lead_time_days = 3


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_ref = factory.Sequence(lambda n: f"TEST-C{n:06d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.LazyAttribute(lambda o: f"{o.external_ref.lower()}@example.com")
    created_at = factory.LazyFunction(timezone.now)


class TechnicianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Technician

    code = factory.Sequence(lambda n: f"test-tech-{n}")
    name = factory.Sequence(lambda n: f"Tech {n}")
    store = factory.SubFactory(StoreFactory)
    hourly_cost = 20


def stock_of(part, store):
    row = Stock.objects.filter(part=part, store=store).first()
    return row.on_hand if row else 0
