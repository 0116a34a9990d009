"""Dashboard pages of the predictive panel."""
app_name = "predictive"

urlpatterns = []
