"""The webhooks context's error catalogue. The code lives in ``rcommerce.events`` and
``rcommerce.jobs``; the reasons live here so the OpenAPI generator (which reads
``rcommerce.domain.<proto stem>.errors``) documents them on webhooks.proto's routes only."""
