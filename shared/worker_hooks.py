"""Worker-side hooks (consumer steps, signal handlers) loaded with the Celery app."""
