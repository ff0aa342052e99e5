from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Back office"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from eventstore.backup import log_restored

        from .codec import register_events
        from .maintenance import after_restore
        from .permissions import ensure_groups

        register_events()
        # After auth has created the permissions (it connects first, being listed first).
        post_migrate.connect(ensure_groups, dispatch_uid="chronicle_ensure_groups")
        log_restored.connect(after_restore, dispatch_uid="chronicle_orders_after_restore")
