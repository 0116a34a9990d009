"""REST endpoints of the workflow app."""
app_name = "workflow-api"

urlpatterns = []
