"""API keys and store-wide settings."""
