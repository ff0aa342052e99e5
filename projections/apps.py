from django.apps import AppConfig


class ProjectionsConfig(AppConfig):
    name = "projections"
    verbose_name = "Read models"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from eventstore.store import events_appended

        from .wakeup import on_events_appended

        events_appended.connect(on_events_appended, dispatch_uid="projections_wake_on_commit")
