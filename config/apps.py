from django.contrib.admin.apps import AdminConfig


class ChronicleAdminConfig(AdminConfig):
    """Django's admin, with ``admin.site`` (where every ``@admin.register`` lands) made a
    ``ChronicleAdminSite``."""

    default_site = "config.admin.ChronicleAdminSite"
