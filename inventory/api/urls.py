"""REST endpoints of the inventory app."""
app_name = "inventory-api"

urlpatterns = []
