"""Plugin host tests."""
