"""Dashboard pages of the inventory panel."""
app_name = "inventory"

urlpatterns = []
