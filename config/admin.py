"""The staff site under its own name: every admin page's header and browser title say
"Chronicle", not Django's "Django administration". The index keeps Django's layout, with the
shop's entities under their app's heading, "Back office"."""

from django.contrib import admin


class ChronicleAdminSite(admin.AdminSite):
    site_header = "Chronicle"
    site_title = "Chronicle"
