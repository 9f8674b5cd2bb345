"""Helpers shared by the provider's operators, sensors and hook."""
