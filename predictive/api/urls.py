"""REST endpoints of the predictive app."""
app_name = "predictive-api"

urlpatterns = []
