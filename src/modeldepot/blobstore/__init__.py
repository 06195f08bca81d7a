"""Content-addressed blob storage behind a small protocol; backends chosen by name."""
