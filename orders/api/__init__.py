"""The REST API for integrations, mounted under ``/api/v1/``.

Views only translate HTTP: a command endpoint turns its body and headers into one
``orders.domain.commands`` command and hands it to ``orders.bus.dispatch``; a read endpoint
calls a selector (``orders.history``) or the event store's feed. Every refusal, whatever
layer raised it, is turned into the one error shape in ``errors.handle_exception``.
"""
