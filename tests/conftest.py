"""Shared pytest configuration for all four test tiers."""
