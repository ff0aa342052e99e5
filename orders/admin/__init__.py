"""The back office: the shop's orders, products and customers in the staff admin, read
from the read models and changed only through commands, with each entity's history and
time travel. Importing the package registers the admins (Django's autodiscovery does)."""

from . import entities as entities
from . import tokens as tokens
