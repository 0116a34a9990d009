"""Learned models of the workflow app (repair time, comeback risk) as plain functions (no Django)."""
