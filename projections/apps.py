from django.apps import AppConfig


class ProjectionsConfig(AppConfig):
    name = "projections"
    verbose_name = "Read models"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from eventstore.backup import log_restored
        from eventstore.store import events_appended

        from .runner import restart_process_managers, start_process_managers
        from .wakeup import on_events_appended

        events_appended.connect(on_events_appended, dispatch_uid="projections_wake_on_commit")
        # Process managers react to what happens from their deployment (and a restore) on.
        post_migrate.connect(start_process_managers, sender=self, dispatch_uid="projections_start_pms")
        log_restored.connect(restart_process_managers, dispatch_uid="projections_restart_pms")
