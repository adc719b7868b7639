"""The admin API front end: JSON over HTTP under /admin/v1, admin tokens only, with its OpenAPI document."""
