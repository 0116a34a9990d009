"""Dashboard pages of the workflow panel."""
app_name = "workflow"

urlpatterns = []
