"""Promotions: coupon codes and automatic promotions, their rules, evaluation and usage."""
