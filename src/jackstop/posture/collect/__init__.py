"""Readers of posture inputs: an app tree (`app`), the local store (`local`), a remote gateway
through its admin API (`remote`). Each returns plain facts (`facts`); the checks judge them."""
